"""Single-positive InfoNCE and Rand1LH.

Per query, with p the one active positive and N the negatives:
``ℓ = −log e^{s(q,p)} / Σ_{d∈{p}∪N} e^{s(q,d)} = LSE_{d∈{p}∪N} s(q,d) − s(q,p)``.
"""

from __future__ import annotations

from torch import Tensor

from retriever.train.losses.base import MultiPositiveLoss, masked_logsumexp


def single_objective(scores: Tensor, positive_mask: Tensor, negative_mask: Tensor) -> Tensor:
    """``LSE_{d∈{p}∪N} s_d − s_p`` per query; each row of ``positive_mask`` must hold exactly one positive."""
    counts = positive_mask.sum(-1)
    if (counts != 1).any():
        raise ValueError(
            f"the single objective needs exactly one positive per query, got counts {counts.tolist()}"
        )
    positive_score = scores.masked_fill(~positive_mask, 0.0).sum(-1)
    return masked_logsumexp(scores, positive_mask | negative_mask) - positive_score


class SingleLoss(MultiPositiveLoss):
    """InfoNCE on the first active positive of each query (``positive_ids[:, 0]``), the standard baseline.

    Equals sentence-transformers' ``MultipleNegativesRankingLoss`` when every query has one positive and the
    other queries' positives and hard negatives are the negatives. A query's other positives (active beyond
    the first, or known but inactive) are neither positives nor negatives.
    """

    name = "single"
    objective = staticmethod(single_objective)
    max_active_positives = 1
    positive_mode = "first"


class Rand1LHLoss(SingleLoss):
    """Rand1LH: the single loss on one positive drawn per query per epoch.

    The draw (seeded from seed, epoch and query, so reproducible and identical on every process) is done by
    the batch plan (``positive_mode = "draw_one"``), which passes the drawn positive as the query's only
    active positive; the query's other known positives are then neither positives nor negatives.
    """

    name = "rand1lh"
    positive_mode = "draw_one"
