"""Passage-bank negatives: every passage of the training file as a negative of every query, at every step.

A step's loss sees the batch's passages only (NFCorpus recipe: 128 of them), while the retriever is judged by
how a query ranks the whole collection. On a small collection the training file's passages are nearly all of
it (NFCorpus: 3,633 documents, SciFact: 5,183), so a step can afford to score each query against every one.
The bank holds their embeddings, computed without gradient by the model being trained and refreshed every
``refresh`` steps (stale in between, as ANCE's asynchronous index or a cross-batch memory is); the loss
appends them after the batch's passages (:meth:`retriever.train.losses.base.MultiPositiveLoss.compute_loss_from_embeddings`):

    s_i = [s(q_i, d) for d in batch passages] ++ [s(q_i, b) for b in bank]      (no gradient to b)

and :func:`retriever.train.labels.build_masks` makes bank passage b a negative of query i unless b is one of
i's known positives or already among the batch's passages (an id counts at its first occurrence). Every bank
passage sends gradient to the queries; only the batch's passages are updated as passages.

Cost: one encoding of the bank every ``refresh`` steps (no backward) and a ``[B, M]`` score matrix per step.
A resumable checkpoint stores the bank, so a resumed run scores against the embeddings an uninterrupted one
used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import Tensor

from retriever.data.training_file import TrainingExample
from retriever.train.labels import doc_id_hash

ENCODE_BATCH = 64


def encode_texts(model: Any, texts: Sequence[str], autocast: Callable[[], AbstractContextManager]) -> Tensor:
    """``[len(texts), D]`` float32 embeddings by ``model`` (a SentenceTransformer) under ``autocast``, without
    gradient; the model is put back in its training mode."""
    training = model.training
    with torch.no_grad(), autocast():
        embeddings = model.encode(
            list(texts), batch_size=ENCODE_BATCH, convert_to_tensor=True, show_progress_bar=False
        )
    model.train(training)
    return embeddings.float().cpu()


def unique_passages(examples: Sequence[TrainingExample], prompt: str | None = None) -> dict[str, str]:
    """``{document id: prompt + text}`` of every positive and negative of ``examples``, each id once (its first
    text), prompt prefixed as the collator prefixes the batch's passages."""
    texts: dict[str, str] = {}
    for example in examples:
        for passage in (*example.positives, *example.negatives):
            texts.setdefault(passage.id, (prompt or "") + passage.text)
    return texts


class PassageBank:
    """The training file's unique passages (by document id) and their embeddings, refreshed on a schedule."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str], refresh: int) -> None:
        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} passage ids, {len(texts)} texts")
        if refresh < 1:
            raise ValueError(f"refresh must be >= 1, got {refresh}")
        self.texts = list(texts)
        self.ids = torch.tensor([doc_id_hash(doc_id) for doc_id in ids], dtype=torch.long)
        self.refresh = refresh
        self.embeddings: Tensor | None = None

    @classmethod
    def from_examples(
        cls, examples: Sequence[TrainingExample], refresh: int, document_prompt: str | None = None
    ) -> PassageBank:
        """The bank of :func:`unique_passages` of ``examples``."""
        texts = unique_passages(examples, document_prompt)
        return cls(list(texts), list(texts.values()), refresh)

    def __len__(self) -> int:
        return len(self.texts)

    def due(self, step: int) -> bool:
        """Whether the bank is (re-)encoded before step ``step`` (0-based): when it is empty and at every
        multiple of ``refresh``."""
        return self.embeddings is None or step % self.refresh == 0

    def encode(self, model: Any, autocast: Callable[[], AbstractContextManager]) -> None:
        """Embed every passage with ``model`` (a SentenceTransformer) under ``autocast``, without gradient,
        and put the model back in its training mode."""
        self.embeddings = encode_texts(model, self.texts, autocast)

    def negatives(self) -> tuple[Tensor, Tensor]:
        """``(embeddings [M, D], ids [M])``: what the loss appends after the batch's passages."""
        if self.embeddings is None:
            raise RuntimeError("the passage bank is not encoded yet")
        return self.embeddings, self.ids

    def state_dict(self) -> dict[str, Tensor | None]:
        return {"embeddings": self.embeddings}

    def load_state_dict(self, state: dict[str, Tensor | None]) -> None:
        embeddings = state["embeddings"]
        if embeddings is not None and embeddings.shape[0] != len(self):
            raise ValueError(f"the saved bank has {embeddings.shape[0]} passages, this one {len(self)}")
        self.embeddings = embeddings
