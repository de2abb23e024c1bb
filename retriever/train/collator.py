"""Turn a list of :class:`~retriever.train.batching.QueryGroup` into the losses' inputs.

Output: ``([query_features, passage_features], labels)`` as in :mod:`retriever.train.labels`: the passages are
the batch's unique passages (by doc id, first occurrence order: each group's positives, then its negatives),
``labels`` comes from :func:`~retriever.train.labels.make_labels`, with each query's teacher scores (its
positives' and negatives' ``teacher_score`` where the training file has one) when ``teacher_scores`` is set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from retriever.train.batching import QueryGroup
from retriever.train.labels import make_labels

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from torch import Tensor


class GroupCollator:
    """Tokenize a batch of query groups with ``model.preprocess`` (prompts prepended when given)."""

    def __init__(
        self,
        model: SentenceTransformer,
        query_prompt: str | None = None,
        document_prompt: str | None = None,
        teacher_scores: bool = False,
    ) -> None:
        self.model = model
        self.query_prompt = query_prompt
        self.document_prompt = document_prompt
        self.teacher_scores = teacher_scores

    def __call__(self, groups: Sequence[QueryGroup]) -> tuple[list[dict[str, Any]], dict[str, Tensor]]:
        passages: dict[str, str] = {}
        for group in groups:
            for passage in (*group.positives, *group.negatives):
                passages.setdefault(passage.id, passage.text)
        features = [
            self.model.preprocess([group.query for group in groups], prompt=self.query_prompt),
            self.model.preprocess(list(passages.values()), prompt=self.document_prompt),
        ]
        labels = make_labels(
            list(passages),
            [[p.id for p in group.positives] for group in groups],
            [list(group.known_positive_ids) for group in groups],
            [_teacher_scores(group) for group in groups] if self.teacher_scores else None,
        )
        return features, labels


def _teacher_scores(group: QueryGroup) -> dict[str, float]:
    return {
        p.id: p.teacher_score for p in (*group.positives, *group.negatives) if p.teacher_score is not None
    }
