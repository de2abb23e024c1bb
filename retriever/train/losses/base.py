"""What every multi-positive loss shares: the masked log-sum-exp, the non-finite check and the module.

A loss scores the batch's B local queries against the N passages (gathered across processes when asked),
``s = similarity(q, d) * scale`` with ``scale = 1 / temperature`` and similarity ``cos`` or ``dot``
(the paper's reference: dot, scale 1; sentence-transformers' default: cos, scale 20), builds the positive
and negative masks of :func:`retriever.train.labels.build_masks`, and applies a pure objective
``objective(scores [B, N], positive_mask, negative_mask) -> per-query loss [B]``. With
``batch_positives`` every passage of the step that is a known positive of a query is one of its active
positives (not only those drawn for it); with ``normalize_by_positives`` each query's loss is divided by its
number of active positives m; with ``distill_weight`` λ > 0 it gains ``λ · KL_i``, the KL from the teacher's
scores of the query's own passages (:mod:`retriever.train.losses.distillation`); the batch loss is the mean
over queries. Scores and objectives are computed in at least float32, also under autocast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from retriever.errors import RetrieverError
from retriever.train.labels import LABEL_KEYS, TEACHER_KEYS, build_masks

Objective = Callable[[Tensor, Tensor, Tensor], Tensor]

SIMILARITIES = ("cos", "dot")

CITATION = """
@misc{wang2026multipositive,
    title={Training Dense Retrievers with Multiple Positive Passages},
    author={Benben Wang and Minghao Tang and Hengran Zhang and Jiafeng Guo and Keping Bi},
    year={2026},
    eprint={2602.12727},
    archivePrefix={arXiv},
    primaryClass={cs.IR},
    url={https://arxiv.org/abs/2602.12727},
}
"""


class NonFiniteLossError(RetrieverError):
    """The loss of a training step is NaN or infinite (the message names the objective, call and queries)."""


def masked_logsumexp(x: Tensor, mask: Tensor, dim: int = -1) -> Tensor:
    """``log Σ_{j: mask_j} exp(x_j)`` along ``dim``; an all-masked slice gives ``-inf`` with zero gradient.

    ``torch.logsumexp`` of an all ``-inf`` row is ``-inf`` but its backward is NaN (``exp(-inf - -inf)``),
    which anomaly detection rejects and any unmasked path would propagate; here empty slices are computed
    on zeros and replaced afterwards, so no backward node produces a NaN.
    """
    empty = ~mask.any(dim, keepdim=True)
    filled = x.masked_fill(~mask, float("-inf")).masked_fill(empty, 0.0)
    return filled.logsumexp(dim).masked_fill(empty.squeeze(dim), float("-inf"))


def similarity_matrix(queries: Tensor, passages: Tensor, similarity: str) -> Tensor:
    """``[B, N]`` cosine or dot similarities, computed in at least float32 even under autocast."""
    dtype = torch.promote_types(queries.dtype, torch.float32)
    queries, passages = queries.to(dtype), passages.to(dtype)
    with torch.autocast(device_type=queries.device.type, enabled=False):
        if similarity == "cos":
            queries = nn.functional.normalize(queries, dim=-1)
            passages = nn.functional.normalize(passages, dim=-1)
        return queries @ passages.T


def check_finite(
    per_query: Tensor, scores: Tensor, positive_mask: Tensor, negative_mask: Tensor, name: str
) -> None:
    """Raise :class:`NonFiniteLossError` describing the offending queries when a per-query loss is NaN/inf."""
    bad = ~torch.isfinite(per_query)
    if not bad.any():
        return
    rows = bad.nonzero().flatten().tolist()
    finite_scores = scores[torch.isfinite(scores)]
    score_range = (
        f"[{finite_scores.min().item():.4g}, {finite_scores.max().item():.4g}]"
        if finite_scores.numel()
        else "none"
    )
    raise NonFiniteLossError(
        f"{name} loss is not finite for {len(rows)}/{per_query.numel()} queries (rows {rows[:8]}): "
        f"losses {per_query[bad][:8].tolist()}, positives per row {positive_mask[bad].sum(-1)[:8].tolist()}, "
        f"negatives per row {negative_mask[bad].sum(-1)[:8].tolist()}, "
        f"non-finite scores {int((~torch.isfinite(scores)).sum())}, finite score range {score_range}; "
        "lower the learning rate or the scale, or train in bf16/fp32 instead of fp16"
    )


class MultiPositiveLoss(nn.Module):
    """A sentence-transformers loss over ``[query_features, passage_features]`` and the label dict.

    Subclasses set :attr:`objective` (a pure function, see the module docstring) and :attr:`name`; a
    subclass that trains on one positive per query sets :attr:`max_active_positives` to 1, so only the
    first active positive of each query counts (the others are neither positives nor negatives).
    :attr:`positive_mode` tells the batch plan (:class:`retriever.train.batching.BatchPlan`) which positives
    to make active: ``all`` (up to ``max_positives``), ``first``, or ``draw_one`` (one drawn per query and
    epoch, seeded).
    """

    name: ClassVar[str]
    objective: ClassVar[Objective]
    max_active_positives: ClassVar[int | None] = None
    positive_mode: ClassVar[str] = "all"

    def __init__(
        self,
        model: nn.Module,
        scale: float = 20.0,
        similarity: str = "cos",
        normalize_by_positives: bool = False,
        gather_across_devices: bool = False,
        distill_weight: float = 0.0,
        teacher_temperature: float = 1.0,
        batch_positives: bool = False,
    ) -> None:
        """
        Args:
            model: a SentenceTransformer (anything mapping features to ``{"sentence_embedding": ...}``).
            scale: ``1 / temperature``; scores are ``similarity * scale`` (> 0).
            similarity: ``"cos"`` or ``"dot"``.
            normalize_by_positives: divide each query's loss by its number of active positives m.
            gather_across_devices: with torch.distributed initialised, every query also sees the other
                processes' passages as negatives (all-gather with gradients).
            distill_weight: λ of the teacher KL added to each query's loss (0 = off; >= 0); the labels must
                then carry the teacher keys of :mod:`retriever.train.labels`.
            teacher_temperature: τ_t dividing the teacher's scores before their softmax (> 0).
            batch_positives: the labels' ``known_positive_ids`` are the active positives, so another query's
                passage that query i is known to like is a positive of i rather than masked (not with a loss
                that trains on one positive per query).
        """
        super().__init__()
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        if similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")
        if not distill_weight >= 0:
            raise ValueError(f"distill_weight must be >= 0, got {distill_weight}")
        if not teacher_temperature > 0:
            raise ValueError(f"teacher_temperature must be > 0, got {teacher_temperature}")
        if batch_positives and self.max_active_positives is not None:
            raise ValueError(f"batch_positives needs several positives a query; {self.name} trains on one")
        self.model = model
        self.scale = float(scale)
        self.similarity = similarity
        self.normalize_by_positives = bool(normalize_by_positives)
        self.gather_across_devices = bool(gather_across_devices)
        self.distill_weight = float(distill_weight)
        self.teacher_temperature = float(teacher_temperature)
        self.batch_positives = bool(batch_positives)

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: dict[str, Tensor]) -> Tensor:
        from sentence_transformers.base.losses.merged_forward import embed_columns

        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: dict[str, Tensor]) -> Tensor:
        """Mean per-query loss of ``embeddings = [queries [B, D], passages [N, D]]`` under ``labels``."""
        if len(embeddings) != 2:
            raise ValueError(f"expected [queries, passages] embeddings, got {len(embeddings)} columns")
        if not isinstance(labels, dict) or set(LABEL_KEYS) - set(labels):
            raise ValueError(f"labels must be a dict with keys {LABEL_KEYS} (see retriever.train.labels)")
        queries, passages = embeddings
        passage_ids = labels["passage_ids"].to(passages.device)
        if self.gather_across_devices:
            from retriever.train.losses.distributed import gather_passages

            passages, passage_ids = gather_passages(passages, passage_ids)
        known_positive_ids = labels["known_positive_ids"].to(queries.device)
        positive_ids = (
            known_positive_ids if self.batch_positives else labels["positive_ids"].to(queries.device)
        )
        if self.max_active_positives is not None:
            positive_ids = positive_ids[:, : self.max_active_positives]
        positive_mask, negative_mask = build_masks(passage_ids, positive_ids, known_positive_ids)
        scores = similarity_matrix(queries, passages, self.similarity) * self.scale
        per_query = self.objective(scores, positive_mask, negative_mask)
        if self.normalize_by_positives:
            per_query = per_query / positive_mask.sum(-1)
        if self.distill_weight > 0:
            per_query = per_query + self.distill_weight * self._teacher_kl(scores, passage_ids, labels)
        check_finite(per_query, scores, positive_mask, negative_mask, self.name)
        return per_query.mean()

    def _teacher_kl(self, scores: Tensor, passage_ids: Tensor, labels: dict[str, Tensor]) -> Tensor:
        from retriever.train.losses.distillation import distillation_kl, teacher_matrix

        if set(TEACHER_KEYS) - set(labels):
            raise ValueError(
                f"distill_weight > 0 needs the labels' {TEACHER_KEYS} (see retriever.train.labels)"
            )
        teacher, scored = teacher_matrix(
            passage_ids, labels["teacher_ids"].to(scores.device), labels["teacher_scores"].to(scores.device)
        )
        return distillation_kl(scores, teacher, scored, self.teacher_temperature)

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "similarity": self.similarity,
            "normalize_by_positives": self.normalize_by_positives,
            "gather_across_devices": self.gather_across_devices,
            **({"batch_positives": True} if self.batch_positives else {}),
            **self._distillation_config(),
        }

    def _distillation_config(self) -> dict[str, float]:
        """The distillation settings, when distillation is on (a model card without it does not list them)."""
        if not self.distill_weight:
            return {}
        return {"distill_weight": self.distill_weight, "teacher_temperature": self.teacher_temperature}

    @property
    def temperature(self) -> float:
        return 1.0 / self.scale

    @property
    def citation(self) -> str:
        return CITATION
