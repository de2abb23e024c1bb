"""Multi-positive contrastive losses as sentence-transformers loss modules.

One module per family: :mod:`.base` (masked log-sum-exp, the shared ``nn.Module``), :mod:`.single`
(InfoNCE and Rand1LH), :mod:`.joint` (JointLH), :mod:`.summarg` (SumMargLH), :mod:`.lsepair` (LSEPair),
:mod:`.cached` (the GradCache variant of each), :mod:`.distributed` (all-gather with gradients) and
:mod:`.registry` (``build_loss(name, model, **hparams)``). Import the classes from their modules; this
package itself stays import-light.
"""
