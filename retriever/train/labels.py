"""The batch label contract between the collator and the multi-positive losses.

A batch of B queries is ``sentence_features = [query_features, passage_features]`` (tokenized dicts as
sentence-transformers produces them) where the passages are the batch's N unique passages (deduplicated by
document id by the collator). ``labels`` is a dict of LongTensors:

- ``passage_ids [N]``: :func:`doc_id_hash` of each passage, in the order of ``passage_features``;
- ``positive_ids [B, P]``: the hashes of each query's ACTIVE positives for this step, padded with -1
  (exactly one per query for ``single`` / ``rand1lh``);
- ``known_positive_ids [B, K]``: the hashes of ALL positives the query is known to have, padded with -1
  (a superset of ``positive_ids``);
- optionally, for distillation (:mod:`retriever.train.losses.distillation`), ``teacher_ids [B, G]`` (long,
  padded with -1) and ``teacher_scores [B, G]`` (float32, 0 in padding): the query's own passages that carry a
  teacher score, and those scores.

:func:`make_labels` builds the dict from string ids. The losses gather passages and ids across processes
and then call :func:`build_masks`:

- ``positive_mask[i, j]``: passage j is an active positive of query i;
- ``negative_mask[i, j]``: passage j is neither a known nor an active positive of query i. Another query's
  positive is therefore a negative unless it is also a positive of query i, and a known-but-inactive
  positive (capped by ``max_positives``, not drawn by Rand1LH) is neither positive nor negative;
- a passage id seen more than once (the same passage on two processes) counts only at its first
  occurrence, and padding slots (id -1, from uneven gathers) count nowhere.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor

PAD_ID = -1
"""Padding value of the id tensors; :func:`doc_id_hash` never returns it (its values are >= 0)."""

LABEL_KEYS = ("passage_ids", "positive_ids", "known_positive_ids")
TEACHER_KEYS = ("teacher_ids", "teacher_scores")


def doc_id_hash(doc_id: str) -> int:
    """A stable 63-bit id for a document: the first 8 bytes of blake2b(doc_id), top bit cleared.

    Values lie in ``[0, 2**63)``: they fit a signed int64 tensor and never equal :data:`PAD_ID`.
    """
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") & (2**63 - 1)


def _padded(rows: list[list[str]], name: str) -> Tensor:
    import torch

    width = max((len(row) for row in rows), default=0)
    table = torch.full((len(rows), max(width, 1)), PAD_ID, dtype=torch.long)
    for i, row in enumerate(rows):
        if len(set(row)) != len(row):
            raise ValueError(f"{name}[{i}] repeats a document id: {row}")
        table[i, : len(row)] = torch.tensor([doc_id_hash(doc_id) for doc_id in row], dtype=torch.long)
    return table


def make_labels(
    passage_ids: list[str],
    active_positives: list[list[str]],
    known_positives: list[list[str]],
    teacher: list[dict[str, float]] | None = None,
) -> dict[str, Tensor]:
    """Build the label dict of one batch from document ids (see the module docstring for the shapes).

    Every active positive must be one of ``passage_ids`` and one of the query's known positives. ``teacher``
    (one ``{passage id: teacher score}`` per query, passages among ``passage_ids``, scores finite) adds the
    teacher keys.
    """
    import torch

    if len(active_positives) != len(known_positives):
        raise ValueError(
            f"{len(active_positives)} queries have active positives, {len(known_positives)} have known ones"
        )
    in_batch = set(passage_ids)
    for i, (active, known) in enumerate(zip(active_positives, known_positives, strict=True)):
        if not active:
            raise ValueError(f"query {i} has no active positive")
        if missing := [doc_id for doc_id in active if doc_id not in in_batch]:
            raise ValueError(f"query {i}: active positives {missing} are not among the batch's passages")
        if extra := sorted(set(active) - set(known)):
            raise ValueError(f"query {i}: active positives {extra} are not among its known positives")
    labels = {
        "passage_ids": torch.tensor([doc_id_hash(doc_id) for doc_id in passage_ids], dtype=torch.long),
        "positive_ids": _padded(active_positives, "active_positives"),
        "known_positive_ids": _padded(known_positives, "known_positives"),
    }
    if teacher is not None:
        labels.update(_teacher_labels(teacher, in_batch, len(active_positives)))
    return labels


def _teacher_labels(teacher: list[dict[str, float]], in_batch: set[str], queries: int) -> dict[str, Tensor]:
    import math

    import torch

    if len(teacher) != queries:
        raise ValueError(f"{queries} queries, {len(teacher)} teacher score maps")
    for i, scores in enumerate(teacher):
        if missing := [doc_id for doc_id in scores if doc_id not in in_batch]:
            raise ValueError(
                f"query {i}: teacher-scored passages {missing} are not among the batch's passages"
            )
        if bad := [doc_id for doc_id, score in scores.items() if not math.isfinite(score)]:
            raise ValueError(f"query {i}: teacher scores of {bad} are not finite")
    values = torch.zeros((queries, max(max((len(s) for s in teacher), default=0), 1)), dtype=torch.float32)
    for i, scores in enumerate(teacher):
        values[i, : len(scores)] = torch.tensor(list(scores.values()), dtype=torch.float32)
    return {"teacher_ids": _padded([list(s) for s in teacher], "teacher"), "teacher_scores": values}


def first_occurrence(ids: Tensor) -> Tensor:
    """``keep[j]`` is True when ``ids[j]`` is not padding and no ``ids[j'] == ids[j]`` with ``j' < j``."""
    import torch

    positions = torch.arange(ids.numel(), device=ids.device)
    unique, inverse = torch.unique(ids, return_inverse=True)
    first = torch.full((unique.numel(),), ids.numel(), dtype=torch.long, device=ids.device)
    first = first.scatter_reduce(0, inverse, positions, reduce="amin")
    return (first[inverse] == positions) & (ids != PAD_ID)


def build_masks(
    passage_ids: Tensor, positive_ids: Tensor, known_positive_ids: Tensor
) -> tuple[Tensor, Tensor]:
    """``(positive_mask, negative_mask)``, both bool ``[B, N]``, as defined in the module docstring.

    Raises ``ValueError`` when a query has no active positive among the passages (a collator bug: the
    loss would be infinite).
    """
    keep = first_occurrence(passage_ids)

    def member(table: Tensor) -> Tensor:
        # [B, N]: passage j's id is one of row i's ids (padding -1 never matches a hash >= 0).
        return (passage_ids[None, :, None] == table[:, None, :]).any(-1) & keep

    positive_mask = member(positive_ids)
    negative_mask = keep & ~member(known_positive_ids) & ~positive_mask
    missing = (~positive_mask.any(-1)).nonzero().flatten().tolist()
    if missing:
        raise ValueError(f"queries {missing[:10]} have no active positive among the batch's passages")
    return positive_mask, negative_mask
