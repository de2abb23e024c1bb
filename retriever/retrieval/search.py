"""Queries in, a ``Run`` ({query id: {doc id: score}}) out: dense, BM25 and hybrid search.

These are the entry points eval, mining and serving share: build the index once (:func:`index_corpus`,
:meth:`BM25Index.build`), then search any number of query sets.
"""

from __future__ import annotations

import numpy as np

from retriever.data.dataset import Corpus, Run
from retriever.retrieval.bm25 import BM25Index
from retriever.retrieval.config import FeedbackConfig, FusionConfig, IndexConfig
from retriever.retrieval.dense_index import DenseIndex
from retriever.retrieval.embedding_cache import EmbeddingCache
from retriever.retrieval.encoder import Encoder
from retriever.retrieval.fusion import fuse


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
) -> DenseIndex:
    """Encode ``corpus`` (through ``cache`` when given) and build a :class:`DenseIndex` over it; the index
    metadata records the encoder description and the corpus fingerprint."""
    embeddings = corpus_embeddings(encoder, corpus, cache)
    metadata = {"encoder": encoder.describe(), "corpus_fingerprint": corpus.fingerprint}
    return DenseIndex.build(embeddings, list(corpus.ids), config, metadata)


def dense_search(
    encoder: Encoder,
    index: DenseIndex,
    queries: dict[str, str],
    k: int,
    feedback: FeedbackConfig | None = None,
    documents: np.ndarray | None = None,
) -> Run:
    """Encode ``queries`` and return their top-``k`` documents by inner product; with ``feedback`` on
    (``depth > 0``), the query vectors are first moved by :func:`rocchio` towards their top documents, whose
    vectors are rows of ``documents`` (the corpus vectors the index was built from, in its row order)."""
    if not queries:
        return {}
    vectors = encoder.encode_queries(list(queries.values()))
    if feedback is not None and feedback.depth > 0:
        if documents is None:
            raise ValueError("dense pseudo-relevance feedback needs the corpus vectors")
        _, rows = index.search(vectors, feedback.depth)
        vectors = rocchio(vectors, documents, rows, feedback.weight, normalize=encoder.normalized)
    return vector_search(index, list(queries), vectors, k)


def rocchio(
    queries: np.ndarray, documents: np.ndarray, rows: np.ndarray, weight: float, normalize: bool
) -> np.ndarray:
    """``q'_i = q_i + weight * mean_{r in rows[i], r >= 0} documents[r]`` (a row of -1, an unfilled slot, is left
    out; a query with none keeps its vector), rescaled to unit length when ``normalize`` (cosine models)."""
    valid = rows >= 0
    gathered = np.asarray(documents[np.where(valid, rows, 0).ravel()], dtype=np.float32)
    gathered = gathered.reshape(*rows.shape, -1) * valid[..., None]
    counts = np.maximum(valid.sum(1, keepdims=True), 1)
    moved = np.asarray(queries, dtype=np.float32) + weight * gathered.sum(1) / counts
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
) -> Run:
    """Dense and BM25 runs (each ``fusion.depth`` deep) fused by :func:`~retriever.retrieval.fusion.fuse`,
    top ``k`` kept."""
    fusion = fusion or FusionConfig()
    dense = dense_search(encoder, index, queries, max(k, fusion.depth))
    lexical = bm25_search(bm25, queries, max(k, fusion.depth))
    return fuse(dense, lexical, fusion, k)
