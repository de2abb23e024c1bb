"""LSEPair: a smooth maximum over every (positive, negative) pair.

``ℓ = log(1 + Σ_{p∈P} Σ_{n∈N} e^{s(q,n) − s(q,p)}) = softplus(LSE_{n∈N} s(q,n) + LSE_{p∈P} (−s(q,p)))``.

Positives never sit in each other's denominator (they are masked out of N). Gradient w.r.t. a positive
score: ``∂ℓ/∂s_p = −σ(z)·softmax_P(−s)_p`` with z the softplus argument: a weight ∝ e^{−s_p}, so the
weakest positive (and the hardest negatives) dominate. A query without negatives has loss 0.
"""

from __future__ import annotations

from torch import Tensor
from torch.nn.functional import softplus

from retriever.train.losses.base import MultiPositiveLoss, masked_logsumexp


def lsepair_objective(scores: Tensor, positive_mask: Tensor, negative_mask: Tensor) -> Tensor:
    """``softplus(LSE_N s + LSE_P (−s))`` per query (0 when N is empty)."""
    negatives = negative_mask & ~positive_mask
    return softplus(masked_logsumexp(scores, negatives) + masked_logsumexp(-scores, positive_mask))


class LSEPairLoss(MultiPositiveLoss):
    """LSEPair over all active positives of each query (see the module docstring for the formula)."""

    name = "lsepair"
    objective = staticmethod(lsepair_objective)
