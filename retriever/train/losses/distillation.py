"""Distillation from a teacher's scores: a listwise KL term any multi-positive objective can add.

For query i, ``J_i`` is the set of its own group's passages that carry a teacher score (its active positives
and hard negatives, scored by the training file's ``teacher_score``). With teacher scores ``t_ij``, the
teacher temperature ``τ_t`` and the student's scaled similarities ``s_ij`` (the objective's scores):

    p_t(j) = softmax_{J_i}(t_ij / τ_t),   p_s(j) = softmax_{J_i}(s_ij)
    KL_i   = Σ_{j ∈ J_i} p_t(j) · (log p_t(j) − log p_s(j))

``∂KL_i / ∂s_ij = p_s(j) − p_t(j)``: the student is pulled toward the teacher's ordering of the query's own
passages, positives among themselves included, which binary labels cannot say. A query with fewer than two
scored passages has ``KL_i = 0``. This is the listwise form of RocketQAv2 and FlagEmbedding's
``teacher_scores``; in-batch passages of other queries carry no teacher score and are left to the objective.
"""

from __future__ import annotations

from torch import Tensor

from retriever.train.labels import first_occurrence


def teacher_matrix(passage_ids: Tensor, teacher_ids: Tensor, teacher_scores: Tensor) -> tuple[Tensor, Tensor]:
    """``(values, scored)``, both ``[B, N]``: row i's teacher score of passage j where it has one.

    ``teacher_ids [B, G]`` and ``teacher_scores [B, G]`` list each query's scored passages (ids padded with
    -1, which never match); a passage id seen more than once among the N counts at its first occurrence
    only, as in :func:`retriever.train.labels.build_masks`. ``values`` is 0 where ``scored`` is False.
    """
    match = (passage_ids[None, :, None] == teacher_ids[:, None, :]) & first_occurrence(passage_ids)[
        None, :, None
    ]
    values = (match * teacher_scores[:, None, :].to(match.device)).sum(-1)
    return values, match.any(-1)


def _log_softmax_over(x: Tensor, mask: Tensor) -> Tensor:
    """``log softmax`` of each row over its ``mask`` entries; 0 outside the mask and in empty rows (whose
    entries are softmaxed as zeros, so that no row is all ``-inf`` and no backward path gives NaN)."""
    empty = ~mask.any(-1, keepdim=True)
    filled = x.masked_fill(~mask, float("-inf")).masked_fill(empty, 0.0)
    return filled.log_softmax(-1).masked_fill(~mask, 0.0)


def distillation_kl(scores: Tensor, teacher: Tensor, scored: Tensor, temperature: float) -> Tensor:
    """Per-query ``KL(p_t || p_s)`` ``[B]`` over each row's ``scored`` passages (module docstring)."""
    teacher = teacher.to(scores.dtype)
    log_teacher = _log_softmax_over(teacher / temperature, scored)
    log_student = _log_softmax_over(scores, scored)
    terms = log_teacher.exp() * (log_teacher - log_student)
    return terms.masked_fill(~scored, 0.0).sum(-1)
