"""Queries in, a ``Run`` ({query id: {doc id: score}}) out: dense, BM25 and hybrid search.

These are the entry points eval, mining and serving share: build the index once (:func:`index_corpus`,
:meth:`BM25Index.build`), then search any number of query sets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from retriever.data.dataset import Corpus, Run
from retriever.retrieval.bm25 import BM25Index
from retriever.retrieval.config import FeedbackConfig, FusionConfig, IndexConfig
from retriever.retrieval.dense_index import DenseIndex
from retriever.retrieval.embedding_cache import EmbeddingCache
from retriever.retrieval.encoder import Encoder
from retriever.retrieval.fusion import fuse

if TYPE_CHECKING:
    from retriever.retrieval.expansion import DocumentExpansion


def corpus_embeddings(encoder: Encoder, corpus: Corpus, cache: EmbeddingCache | None = None):
    """The corpus vectors: from (or into) ``cache`` when given, else encoded in memory."""
    if cache is not None:
        return cache.corpus_embeddings(encoder, corpus)
    return encoder.encode_documents(encoder.document_texts(corpus))


def index_corpus(
    encoder: Encoder,
    corpus: Corpus,
    config: IndexConfig | None = None,
    cache: EmbeddingCache | None = None,
    expansion: DocumentExpansion | None = None,
) -> DenseIndex:
    """Encode ``corpus`` (through ``cache`` when given), move the vectors towards the documents' labelled
    queries when ``expansion`` is given, and build a :class:`DenseIndex` over them; the index metadata records
    the encoder description and the corpus fingerprint."""
    embeddings = corpus_embeddings(encoder, corpus, cache)
    if expansion is not None:
        embeddings = expansion.vectors(embeddings, list(corpus.ids), encoder)
    metadata = {"encoder": encoder.describe(), "corpus_fingerprint": corpus.fingerprint}
    return DenseIndex.build(embeddings, list(corpus.ids), config, metadata)


def dense_search(
    encoder: Encoder,
    index: DenseIndex,
    queries: dict[str, str],
    k: int,
    feedback: FeedbackConfig | None = None,
) -> Run:
    """Encode ``queries`` and return their top-``k`` documents by inner product; with ``feedback`` on
    (``depth > 0``), each query vector is first moved by :func:`rocchio` towards its top ``depth`` documents'
    vectors (read back from the index), and the moved vectors are searched."""
    if not queries:
        return {}
    vectors = encoder.encode_queries(list(queries.values()))
    return vector_search(index, list(queries), with_feedback(index, vectors, feedback, encoder.normalized), k)


def with_feedback(
    index: DenseIndex, vectors: np.ndarray, feedback: FeedbackConfig | None, normalize: bool
) -> np.ndarray:
    """Query ``vectors`` moved by :func:`rocchio` towards their top ``feedback.depth`` documents in ``index``
    (their vectors read back from it); unchanged when ``feedback`` is None or off."""
    if feedback is None or feedback.depth == 0:
        return vectors
    _, rows = index.search(vectors, feedback.depth)
    return rocchio(vectors, index.vectors(rows), rows >= 0, feedback.weight, normalize)


def rocchio(
    queries: np.ndarray, neighbours: np.ndarray, filled: np.ndarray, weight: float, normalize: bool
) -> np.ndarray:
    """``q'_i = q_i + weight * mean_{j: filled[i, j]} neighbours[i, j]`` (``neighbours`` ``[B, depth, D]``; a
    query with no filled slot keeps its vector), rescaled to unit length when ``normalize`` (cosine models)."""
    counts = np.maximum(filled.sum(1, keepdims=True), 1)
    return moved_towards(queries, (neighbours * filled[..., None]).sum(1) / counts, weight, normalize)


def moved_towards(vectors: np.ndarray, targets: np.ndarray, weight: float, normalize: bool) -> np.ndarray:
    """``vectors + weight * targets`` row by row (float32), rescaled to unit length when ``normalize``; a zero
    target row leaves its vector where it is."""
    moved = np.asarray(vectors, dtype=np.float32) + weight * np.asarray(targets, dtype=np.float32)
    if normalize:
        moved /= np.linalg.norm(moved, axis=1, keepdims=True)
    return moved


def vector_search(index: DenseIndex, query_ids: list[str], vectors, k: int) -> Run:
    """The top-``k`` documents by inner product of already encoded queries (row i is ``query_ids[i]``)."""
    scores, rows = index.search(vectors, k)
    return {
        qid: {index.ids[row]: float(score) for row, score in zip(rows[i], scores[i], strict=True) if row >= 0}
        for i, qid in enumerate(query_ids)
    }


def bm25_search(bm25: BM25Index, queries: dict[str, str], k: int) -> Run:
    """Top-``k`` BM25 documents per query."""
    return bm25.search(queries, k)


def hybrid_search(
    encoder: Encoder,
    index: DenseIndex,
    bm25: BM25Index,
    queries: dict[str, str],
    k: int,
    fusion: FusionConfig | None = None,
    feedback: FeedbackConfig | None = None,
) -> Run:
    """Dense (with ``feedback``, see :func:`dense_search`) and BM25 runs, each ``fusion.depth`` deep, fused by
    :func:`~retriever.retrieval.fusion.fuse`, top ``k`` kept."""
    fusion = fusion or FusionConfig()
    dense = dense_search(encoder, index, queries, max(k, fusion.depth), feedback)
    lexical = bm25_search(bm25, queries, max(k, fusion.depth))
    return fuse(dense, lexical, fusion, k)
