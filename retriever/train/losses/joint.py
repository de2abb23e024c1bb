"""JointLH: the joint likelihood of all of a query's positives.

``ℓ = −Σ_{p∈P} log softmax_{P∪N}(s)_p = m·LSE_{d∈P∪N} s(q,d) − Σ_{p∈P} s(q,p)``, m = |P|.

Gradient w.r.t. a positive score: ``∂ℓ/∂s_p = m·softmax_{P∪N}(s)_p − 1``; it vanishes only when every
positive holds an equal 1/m share of the probability mass, so positives compete with each other.
"""

from __future__ import annotations

from torch import Tensor

from retriever.train.losses.base import MultiPositiveLoss, masked_logsumexp


def jointlh_objective(scores: Tensor, positive_mask: Tensor, negative_mask: Tensor) -> Tensor:
    """``m·LSE_{P∪N} s − Σ_P s`` per query (the query's own positives are in the denominator)."""
    m = positive_mask.sum(-1).to(scores.dtype)
    positive_sum = scores.masked_fill(~positive_mask, 0.0).sum(-1)
    return m * masked_logsumexp(scores, positive_mask | negative_mask) - positive_sum


class JointLHLoss(MultiPositiveLoss):
    """JointLH over all active positives of each query (see the module docstring for the formula)."""

    name = "jointlh"
    objective = staticmethod(jointlh_objective)
