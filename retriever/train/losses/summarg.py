"""SumMargLH: the summed marginal likelihood of a query's positives.

``ℓ = −log Σ_{p∈P} softmax_{P∪N}(s)_p = LSE_{d∈P∪N} s(q,d) − LSE_{p∈P} s(q,p)``.

Gradient w.r.t. a positive score: ``∂ℓ/∂s_p = softmax_{P∪N}(s)_p − softmax_P(s)_p``, a weight ∝ e^{s_p}
inside the positives: the strongest positive dominates the update.
"""

from __future__ import annotations

from torch import Tensor

from retriever.train.losses.base import MultiPositiveLoss, masked_logsumexp


def summarglh_objective(scores: Tensor, positive_mask: Tensor, negative_mask: Tensor) -> Tensor:
    """``LSE_{P∪N} s − LSE_P s`` per query (the query's own positives are in the denominator)."""
    return masked_logsumexp(scores, positive_mask | negative_mask) - masked_logsumexp(scores, positive_mask)


class SumMargLHLoss(MultiPositiveLoss):
    """SumMargLH over all active positives of each query (see the module docstring for the formula)."""

    name = "summarglh"
    objective = staticmethod(summarglh_objective)
