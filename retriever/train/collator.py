"""Turn a list of :class:`~retriever.train.batching.QueryGroup` into the losses' inputs.

Output: ``([query_features, passage_features], labels)`` as in :mod:`retriever.train.labels`: the passages are
the batch's unique passages (by doc id, first occurrence order: each group's positives, then its negatives),
``labels`` comes from :func:`~retriever.train.labels.make_labels`, with each query's teacher scores (its
positives' and negatives' ``teacher_score`` where the training file has one) when ``teacher_scores`` is set.
With a ``guide`` (:mod:`retriever.train.guide`), the batch passages it suspects of being a query's positives join
that query's known positives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from retriever.train.batching import QueryGroup
from retriever.train.labels import make_labels

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from torch import Tensor

    from retriever.train.guide import FalseNegativeGuide


class GroupCollator:
    """Tokenize a batch of query groups with ``model.preprocess`` (prompts prepended when given)."""

    def __init__(
        self,
        model: SentenceTransformer,
        query_prompt: str | None = None,
        document_prompt: str | None = None,
        teacher_scores: bool = False,
        guide: FalseNegativeGuide | None = None,
    ) -> None:
        self.model = model
        self.query_prompt = query_prompt
        self.document_prompt = document_prompt
        self.teacher_scores = teacher_scores
        self.guide = guide
        self.guide_masked = 0
        """How many (query, passage) pairs the guide took out of the last batch's negatives."""

    def __call__(self, groups: Sequence[QueryGroup]) -> tuple[list[dict[str, Any]], dict[str, Tensor]]:
        passages: dict[str, str] = {}
        self.guide_masked = 0
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
            [self._known_positives(group, list(passages)) for group in groups],
            [_teacher_scores(group) for group in groups] if self.teacher_scores else None,
        )
        return features, labels

    def _known_positives(self, group: QueryGroup, passage_ids: list[str]) -> list[str]:
        """The group's known positives, and the batch passages its guide suspects of being positives."""
        known = list(group.known_positive_ids)
        if self.guide is not None:
            suspects = self.guide.suspects(group.query_id, [p.id for p in group.positives], passage_ids)
            suspects = [doc_id for doc_id in suspects if doc_id not in group.known_positive_ids]
            self.guide_masked += len(suspects)
            known += suspects
        return known


def _teacher_scores(group: QueryGroup) -> dict[str, float]:
    return {
        p.id: p.teacher_score for p in (*group.positives, *group.negatives) if p.teacher_score is not None
    }
