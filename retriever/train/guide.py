"""False-negative guide: in-batch passages that a frozen guide model ranks above a query's positives are left out
of its negatives (GISTEmbed's guided in-batch negatives, for several positives).

A batch's negatives for query i are the other queries' passages and its hard negatives; on a collection whose
labels are incomplete (NFCorpus: a document is relevant to many queries, few of them labelled) some are relevant
to i. With a guide g (cosine of a frozen model's embeddings, e.g. the starting model's) and i's active
positives P_i:

    t_i = max_{p ∈ P_i} g(q_i, p),    passage d is suspect for i when g(q_i, d) > t_i

and a suspect is added to i's known positives (:mod:`retriever.train.labels`): neither a positive nor a
negative of i. The guide embeds every query and passage of the training file once, before the first step.
Under ``gather_across_devices`` it sees its own process's passages only: another process's are not masked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import Tensor

from retriever.data.training_file import TrainingExample

ENCODE_BATCH = 64


def encode_texts(model: Any, texts: Sequence[str], autocast: Callable[[], AbstractContextManager]) -> Tensor:
    """``[len(texts), D]`` float32 embeddings by ``model`` (a SentenceTransformer) under ``autocast``."""
    with torch.no_grad(), autocast():
        embeddings = model.encode(
            list(texts), batch_size=ENCODE_BATCH, convert_to_tensor=True, show_progress_bar=False
        )
    return embeddings.float().cpu()


def unique_passages(examples: Sequence[TrainingExample], prompt: str | None = None) -> dict[str, str]:
    """``{document id: prompt + text}`` of every positive and negative of ``examples``, each id once (its first
    text), prompt prefixed as the collator prefixes the batch's passages."""
    texts: dict[str, str] = {}
    for example in examples:
        for passage in (*example.positives, *example.negatives):
            texts.setdefault(passage.id, (prompt or "") + passage.text)
    return texts


class FalseNegativeGuide:
    """Normalized guide embeddings of the training file's queries and passages, looked up by id."""

    def __init__(
        self, query_ids: Sequence[str], queries: Tensor, passage_ids: Sequence[str], passages: Tensor
    ) -> None:
        self.query_row = {query_id: row for row, query_id in enumerate(query_ids)}
        self.passage_row = {doc_id: row for row, doc_id in enumerate(passage_ids)}
        self.queries = torch.nn.functional.normalize(queries.float(), dim=-1)
        self.passages = torch.nn.functional.normalize(passages.float(), dim=-1)

    @classmethod
    def encode(
        cls,
        model: Any,
        examples: Sequence[TrainingExample],
        autocast: Callable[[], AbstractContextManager],
        query_prompt: str | None = None,
        document_prompt: str | None = None,
    ) -> FalseNegativeGuide:
        """Embed every query and passage of ``examples`` with ``model`` (prompts as the collator adds them)."""
        passages = unique_passages(examples, document_prompt)
        queries = encode_texts(model, [(query_prompt or "") + e.query for e in examples], autocast)
        return cls(
            [e.query_id for e in examples],
            queries,
            list(passages),
            encode_texts(model, list(passages.values()), autocast),
        )

    def suspects(self, query_id: str, positive_ids: Sequence[str], passage_ids: Sequence[str]) -> list[str]:
        """The ids among ``passage_ids`` (not ``positive_ids``) the guide scores above every positive of the query."""
        query = self.queries[self.query_row[query_id]]
        scores = self.passages[[self.passage_row[doc_id] for doc_id in passage_ids]] @ query
        threshold = (
            (self.passages[[self.passage_row[doc_id] for doc_id in positive_ids]] @ query).max().item()
        )
        positives = set(positive_ids)
        return [
            doc_id
            for doc_id, score in zip(passage_ids, scores.tolist(), strict=True)
            if score > threshold and doc_id not in positives
        ]
