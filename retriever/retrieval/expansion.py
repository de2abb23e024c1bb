"""Document expansion with labelled queries (:class:`~retriever.retrieval.config.ExpansionConfig`).

A labelled query is evidence of what a document answers, in the words users ask it in. doc2query appends
generated queries to a document's text; with real ones at hand (a training split's qrels) this module appends
those for BM25, and for dense retrieval moves the document's vector towards them:

    d' = d + weight * sum_{q in Q(d)} q / |D(q)|        (then unit length again for cosine models)

where ``Q(d)`` are the labelled queries relevant to ``d`` (grade >= 1) and ``D(q)`` the corpus documents ``q`` is
relevant to: each query spreads one ``weight`` over its relevant documents. A claim relevant to one abstract
(SciFact) moves it by ``weight x q``; a broad topic relevant to 40 documents (NFCorpus) moves each by a 40th, so
a document is carried far only by many queries. (A plain mean over ``Q(d)`` carried a document labelled by a
single broad query all the way to it: with 50 labelled NFCorpus queries that cost dev 0.096 nDCG@10,
``eval/output/nfcorpus_expansion_targets_dev.md``.) Documents without a labelled query are unchanged, so the
expansion only ever adds what the labels say. The queries searched must be others than these (eval refuses to
expand with the split it evaluates).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from retriever.data.dataset import Corpus, Dataset
from retriever.errors import InputError
from retriever.retrieval.config import ExpansionConfig
from retriever.retrieval.encoder import Encoder
from retriever.retrieval.search import moved_towards

FORMULA = "d + weight * sum_{q in Q(d)} q / |D(q)|"  # recorded with an expanded index: how its vectors moved


@dataclass(frozen=True)
class DocumentExpansion:
    """The labelled queries of each document (doc id -> ``(query text, share)`` in qrels order, the share being
    ``1 / |D(q)|`` of the module's formula) and the dense weight."""

    queries: dict[str, list[tuple[str, float]]]
    weight: float
    split: str | None = None

    @classmethod
    def load(cls, data: str, config: ExpansionConfig, corpus: Corpus) -> DocumentExpansion:
        """From ``config.split`` of the dataset ``data`` (a name or path, as ``load_dataset`` takes it), whose
        ``corpus`` is already loaded (it is not read again); a split the dataset lacks is an error on the field
        ``expansion.split``."""
        from retriever.data.loader import load_dataset

        try:
            labelled = load_dataset(data, config.split, corpus)
        except InputError as exc:
            if exc.field != "split":
                raise
            raise InputError(exc.reason, path=exc.path, field="expansion.split") from None
        return cls.from_dataset(labelled, config.weight)

    @classmethod
    def from_dataset(cls, labelled: Dataset, weight: float) -> DocumentExpansion:
        """The judged queries of ``labelled`` (a split's qrels) grouped by the documents they are relevant to,
        in qrels order, each with its share; documents outside ``labelled.corpus`` are skipped."""
        queries: dict[str, list[tuple[str, float]]] = {}
        known = labelled.corpus.position
        for query_id, text in labelled.judged_queries().items():
            relevant = [
                doc_id
                for doc_id, grade in labelled.qrels.get(query_id, {}).items()
                if grade >= 1 and doc_id in known
            ]
            for doc_id in relevant:
                queries.setdefault(doc_id, []).append((text, 1 / len(relevant)))
        return cls(queries, weight, labelled.split)

    def describe(self) -> dict[str, object]:
        """What an index manifest records: the split, the weight, the formula, and how many documents and labels."""
        labels = sum(len(queries) for queries in self.queries.values())
        return {
            "split": self.split,
            "weight": self.weight,
            "formula": FORMULA,
            "documents": len(self.queries),
            "labels": labels,
        }

    def corpus(self, corpus: Corpus) -> Corpus:
        """``corpus`` with each document's labelled queries appended to its text, one space apart (read lazily:
        a memory-mapped corpus stays on disk)."""
        appended = {
            row: " ".join(text for text, _ in self.queries[doc_id])
            for row, doc_id in enumerate(corpus.ids)
            if doc_id in self.queries
        }
        return Corpus(corpus.ids, corpus.titles, AppendedTexts(corpus.texts, appended))

    def vectors(self, vectors: np.ndarray, ids: list[str], encoder: Encoder) -> np.ndarray:
        """The document ``vectors`` (row i is ``ids[i]``) moved towards their labelled queries (the module's
        formula)."""
        return moved_towards(vectors, self.targets(ids, encoder), self.weight, encoder.normalized)

    def targets(self, ids: list[str], encoder: Encoder) -> np.ndarray:
        """Row i: ``sum_{q in Q(d)} q / |D(q)|`` for document ``d = ids[i]`` (zeros without a labelled query);
        each distinct query text is encoded once."""
        from scipy.sparse import csr_matrix

        texts = sorted({text for queries in self.queries.values() for text, _ in queries})
        if not texts:
            return np.zeros((len(ids), encoder.dimension), dtype=np.float32)
        column = {text: i for i, text in enumerate(texts)}
        rows, columns, shares = [], [], []
        for row, doc_id in enumerate(ids):
            for text, share in self.queries.get(doc_id, ()):
                rows.append(row)
                columns.append(column[text])
                shares.append(share)
        incidence = csr_matrix((np.array(shares, dtype=np.float32), (rows, columns)), (len(ids), len(texts)))
        return np.asarray(incidence @ encoder.encode_queries(texts))


class AppendedTexts(Sequence[str]):
    """The rows ``texts[i] + " " + appended[i]`` (``texts[i]`` alone for a row without an appendix), joined when
    read, as :class:`~retriever.data.dataset.JoinedTexts` joins titles."""

    def __init__(self, texts: Sequence[str], appended: dict[int, str]) -> None:
        self.texts, self.appended = texts, appended

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: int | slice) -> str | list[str]:  # type: ignore[override]
        """Row ``index`` as a string; a slice gives a list."""
        if isinstance(index, slice):
            return [
                self._row(row, text)
                for row, text in zip(range(len(self))[index], self.texts[index], strict=True)
            ]
        row = range(len(self))[index]  # a negative index counts from the end, as a list's does
        return self._row(row, self.texts[row])

    def __iter__(self) -> Iterator[str]:
        for row, text in enumerate(self.texts):
            yield self._row(row, text)

    def _row(self, row: int, text: str) -> str:
        return f"{text} {self.appended[row]}" if row in self.appended else text
