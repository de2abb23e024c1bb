"""Document expansion with labelled queries (:class:`~retriever.retrieval.config.ExpansionConfig`).

A labelled query is evidence of what a document answers, in the words users ask it in. doc2query appends
generated queries to a document's text; with real ones at hand (a training split's qrels) this module appends
those for BM25, and for dense retrieval moves the document's vector towards their mean:

    d' = d + weight * (1 / |Q(d)|) * sum_{q in Q(d)} q        (then unit length again for cosine models)

where ``Q(d)`` are the labelled queries relevant to ``d`` (grade >= 1). Documents without one are unchanged,
so the expansion only ever adds what the labels say. The queries searched must be others than these (eval
refuses to expand with the split it evaluates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retriever.data.dataset import Corpus, Dataset
from retriever.errors import InputError
from retriever.retrieval.config import ExpansionConfig
from retriever.retrieval.encoder import Encoder
from retriever.retrieval.search import moved_towards


@dataclass(frozen=True)
class DocumentExpansion:
    """The labelled queries of each document (doc id -> query texts) and the dense weight."""

    queries: dict[str, list[str]]
    weight: float
    split: str | None = None

    @classmethod
    def load(cls, data: str, config: ExpansionConfig) -> DocumentExpansion:
        """From ``config.split`` of the dataset ``data`` (a name or path, as ``load_dataset`` takes it); a split
        the dataset lacks is an error on the field ``expansion.split``."""
        from retriever.data.loader import load_dataset

        try:
            labelled = load_dataset(data, config.split)
        except InputError as exc:
            if exc.field != "split":
                raise
            raise InputError(exc.reason, path=exc.path, field="expansion.split") from None
        return cls.from_dataset(labelled, config.weight)

    @classmethod
    def from_dataset(cls, labelled: Dataset, weight: float) -> DocumentExpansion:
        """The judged queries of ``labelled`` (a split's qrels) grouped by the documents they are relevant to,
        in qrels order; documents outside ``labelled.corpus`` are skipped."""
        queries: dict[str, list[str]] = {}
        known = labelled.corpus.position
        for query_id, text in labelled.judged_queries().items():
            for doc_id, grade in labelled.qrels.get(query_id, {}).items():
                if grade >= 1 and doc_id in known:
                    queries.setdefault(doc_id, []).append(text)
        return cls(queries, weight, labelled.split)

    def describe(self) -> dict[str, object]:
        """What an index manifest records: the split, the weight, and how many documents and labels."""
        labels = sum(len(queries) for queries in self.queries.values())
        return {"split": self.split, "weight": self.weight, "documents": len(self.queries), "labels": labels}

    def corpus(self, corpus: Corpus) -> Corpus:
        """``corpus`` with each document's labelled queries appended to its text, one space apart."""
        texts = [
            " ".join([text, *self.queries[doc_id]]) if doc_id in self.queries else text
            for doc_id, text in zip(corpus.ids, corpus.texts, strict=True)
        ]
        return Corpus(list(corpus.ids), list(corpus.titles), texts)

    def vectors(self, vectors: np.ndarray, ids: list[str], encoder: Encoder) -> np.ndarray:
        """The document ``vectors`` (row i is ``ids[i]``) moved towards their labelled queries' mean vector (the
        module's formula)."""
        return moved_towards(vectors, self.query_means(ids, encoder), self.weight, encoder.normalized)

    def query_means(self, ids: list[str], encoder: Encoder) -> np.ndarray:
        """Row i: the mean vector of document ``ids[i]``'s labelled queries (zeros without any); each distinct
        query text is encoded once."""
        from scipy.sparse import csr_matrix

        texts = sorted({text for queries in self.queries.values() for text in queries})
        if not texts:
            return np.zeros((len(ids), encoder.dimension), dtype=np.float32)
        column = {text: i for i, text in enumerate(texts)}
        rows, columns = [], []
        for row, doc_id in enumerate(ids):
            for text in self.queries.get(doc_id, ()):
                rows.append(row)
                columns.append(column[text])
        incidence = csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, columns)), (len(ids), len(texts))
        )
        counts = np.maximum(np.asarray(incidence.sum(axis=1)), 1)
        return np.asarray(incidence @ encoder.encode_queries(texts)) / counts
