"""bm25s's score matrix built a chunk of documents at a time, in memory proportional to its non-zeros.

``bm25s.BM25.index`` keeps every document's token ids, then three arrays of (score, document, term) per non-zero,
then sorts them into a CSC matrix (term columns, document rows) through two more arrays of that size: about six
times the final matrix at its peak (6.6 GB at 10^6 passages against a 0.9 GB index, ``eval/output/scale.md``).
:func:`build_score_matrix` produces the same matrix, bit for bit (``tests/test_retrieval_bm25.py``), in three
passes over chunks:

1. count: each chunk's texts are tokenised and reduced to their (term, tf) pairs per document (4 + 4 bytes a
   pair; the token sequences are dropped at once) and each document's length |d| in tokens;
2. weigh: ``df(t)`` and ``avgdl`` over the whole corpus, then ``idf(t)`` and, for BM25L / BM25+, the
   non-occurrence scores, by bm25s's own functions;
3. fill: each chunk's scores ``idf(t) * tfc(tf, |d|, avgdl)`` (bm25s's term-frequency component of the
   engine's method) written straight into their column slots, ``indptr[t] = sum_{t' < t} df(t')``, in document
   order; a chunk's pairs are freed once written.

The peak is the (term, tf) pairs plus the final ``data`` (float32) and ``indices`` (int32): about twice the matrix.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class TermCounts:
    """One chunk's documents as (term, tf) pairs, sorted by document then term id."""

    terms: np.ndarray  # int32, one per pair
    tfs: np.ndarray  # the engine's float dtype (bm25s counts in it), one per pair
    pairs_per_doc: np.ndarray  # int64, one per document
    lengths: np.ndarray  # int64, tokens per document (repeats counted)


def count_terms(tokens: list[list[str]], vocab: dict[str, int], dtype: str) -> TermCounts:
    """:class:`TermCounts` of one chunk's token lists; new tokens join ``vocab`` with the next id."""
    lengths = np.fromiter((len(doc) for doc in tokens), dtype=np.int64, count=len(tokens))
    ids = np.fromiter(
        (vocab.setdefault(t, len(vocab)) for doc in tokens for t in doc),
        dtype=np.int32,
        count=int(lengths.sum()),
    )
    docs = np.repeat(np.arange(len(tokens), dtype=np.int64), lengths)
    keys, tfs = np.unique((docs << 32) | ids, return_counts=True)
    return TermCounts(
        terms=(keys & 0xFFFFFFFF).astype(np.int32),
        tfs=tfs.astype(dtype),
        pairs_per_doc=np.bincount(keys >> 32, minlength=len(tokens)),
        lengths=lengths,
    )


def build_score_matrix(engine: Any, token_chunks: Iterable[list[list[str]]]) -> dict[str, int]:
    """Index ``token_chunks`` (each a list of per-document token lists, documents in corpus order) into the
    bm25s ``engine`` as ``engine.index((ids, vocab))`` would, and return the vocabulary ``{token: id}`` (in
    order of first occurrence). Sets the engine's ``scores`` (CSC ``data`` / ``indices`` / ``indptr``,
    ``num_docs``), ``vocab_dict`` (with bm25s's empty token), ``unique_token_ids_set`` and
    ``nonoccurrence_array``."""
    from bm25s.scoring import (
        _build_idf_array,
        _build_nonoccurrence_array,
        _select_idf_scorer,
        _select_tfc_scorer,
    )

    vocab: dict[str, int] = {}
    chunks = [count_terms(tokens, vocab, engine.dtype) for tokens in token_chunks]
    if not vocab:
        return vocab  # nothing to index: the caller says so
    n_vocab = len(vocab)
    lengths = np.concatenate([chunk.lengths for chunk in chunks])
    n_docs, avg_doc_len = len(lengths), lengths.mean()
    df = sum(np.bincount(chunk.terms, minlength=n_vocab) for chunk in chunks)
    doc_frequencies = dict(enumerate(df.tolist()))
    idf = _build_idf_array(doc_frequencies, n_docs, _select_idf_scorer(engine.idf_method), engine.dtype)
    tfc = _select_tfc_scorer(engine.method)
    nonoccurrence = None
    if engine.method in engine.methods_requiring_nonoccurrence:
        nonoccurrence = _build_nonoccurrence_array(
            doc_frequencies, n_docs, _select_idf_scorer(engine.idf_method), tfc,
            l_d=avg_doc_len, l_avg=avg_doc_len, k1=engine.k1, b=engine.b, delta=engine.delta, dtype=engine.dtype,
        )  # fmt: skip

    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    data = np.empty(indptr[-1], dtype=engine.dtype)
    indices = np.empty(indptr[-1], dtype=engine.int_dtype)
    heads = indptr[:-1].copy()  # the next free slot of each column
    first_doc = 0
    chunks.reverse()  # popped from the end, in document order, each freed once written
    while chunks:
        chunk = chunks.pop()
        docs = first_doc + np.repeat(np.arange(len(chunk.lengths)), chunk.pairs_per_doc)
        scores = idf[chunk.terms] * tfc(
            tf_array=chunk.tfs, l_d=np.repeat(chunk.lengths, chunk.pairs_per_doc), l_avg=avg_doc_len,
            k1=engine.k1, b=engine.b, delta=engine.delta,
        )  # fmt: skip
        if nonoccurrence is not None:
            scores -= nonoccurrence[chunk.terms]
        by_term = np.argsort(chunk.terms, kind="stable")  # documents stay in order within a term
        terms = chunk.terms[by_term]
        counts = np.bincount(terms, minlength=n_vocab)
        # the i-th pair of the sorted chunk is pair i - (pairs of smaller terms) of its term's run
        slots = (heads - (np.cumsum(counts) - counts))[terms] + np.arange(len(terms))
        data[slots] = scores[by_term]
        indices[slots] = docs[by_term]
        heads += counts
        first_doc += len(chunk.lengths)

    engine.scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": n_docs}
    engine.nonoccurrence_array = nonoccurrence
    engine.vocab_dict = {**vocab, "": n_vocab} if "" not in vocab else dict(vocab)
    engine.unique_token_ids_set = set(engine.vocab_dict.values())
    return vocab
