"""Candidate passages per training query from BM25, dense retrieval and their fusion; known positives apart.

Each source retrieves ``depth + |known positives|`` passages per query, drops the query's known positives
(qrels at or above ``min_qrels_grade``) and keeps the best ``depth``: a source run never contains a positive.
Dense retrieval encodes the corpus through the shared memory-mapped embedding cache, and all queries at once
(a query's vector never depends on how the queries are chunked), and searches FAISS.

A source's candidates are two arrays, not per-pair Python objects (:class:`CandidateArrays`): row ``i`` is
the ``i``-th mined query, ``docs[i]`` its passages' corpus positions best first (``-1`` pads a short row) and
``scores[i]`` their first-stage scores (float64, so every float32 engine score is kept exactly). Queries are
searched ``QUERY_CHUNK`` at a time, so no full run of dicts ever exists. The arrays are checkpointed as
``.npy`` files in ``candidates/`` with ``key.json`` (a hash of everything they depend on) and read back
memory-mapped, so a rerun (or a resumed crash) reads them instead of retrieving again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retriever.data.dataset import Corpus, Run
from retriever.files import atomic_write_json, replace_directory
from retriever.mine.config import CandidatesConfig, Source
from retriever.retrieval.fusion import cut, fuse

QUERY_CHUNK = 8192


@dataclass(frozen=True)
class CandidateArrays:
    """One source's candidates: ``docs`` int32 ``[queries, depth]`` corpus positions best first (-1 = none),
    ``scores`` float64 of the same shape (NaN where ``docs`` is -1)."""

    docs: np.ndarray
    scores: np.ndarray

    def row(self, i: int, ids: Sequence[str]) -> dict[str, float]:
        """Query ``i``'s candidates as {doc id: score}, best first."""
        return {
            ids[p]: s for p, s in zip(self.docs[i].tolist(), self.scores[i].tolist(), strict=True) if p >= 0
        }


def without(run: Run, exclude: Mapping[str, set[str]], depth: int) -> Run:
    """Each query's ``depth`` best passages that are not in ``exclude[query]``."""
    return {
        qid: cut({doc: s for doc, s in scores.items() if doc not in exclude.get(qid, set())}, depth)
        for qid, scores in run.items()
    }


def _chunks(queries: dict[str, str]) -> Iterator[tuple[int, dict[str, str]]]:
    items = list(queries.items())
    for start in range(0, len(items), QUERY_CHUNK):
        yield start, dict(items[start : start + QUERY_CHUNK])


def _arrays(
    search: Callable[[dict[str, str]], Run],
    corpus: Corpus,
    queries: dict[str, str],
    exclude: Mapping[str, set[str]],
    depth: int,
) -> CandidateArrays:
    """``search`` (queries -> run) over ``queries`` chunk by chunk, known positives dropped, as arrays."""
    docs = np.full((len(queries), depth), -1, dtype=np.int32)
    scores = np.full((len(queries), depth), np.nan, dtype=np.float64)
    position = corpus.position
    for start, chunk in _chunks(queries):
        for offset, ranking in enumerate(without(search(chunk), exclude, depth).values()):
            row = start + offset
            docs[row, : len(ranking)] = [position[doc] for doc in ranking]
            scores[row, : len(ranking)] = list(ranking.values())
    return CandidateArrays(docs, scores)


def retrieve(
    corpus: Corpus,
    queries: dict[str, str],
    exclude: Mapping[str, set[str]],
    sources: list[Source],
    config: CandidatesConfig,
    encoder: Callable[[], Any],
    embedding_cache: Any,
) -> dict[str, CandidateArrays]:
    """{source: arrays} for ``sources``; ``encoder()`` gives the (lazily loaded) bi-encoder for dense search."""
    from retriever.retrieval.bm25 import BM25Index
    from retriever.retrieval.search import bm25_search, index_corpus, vector_search

    k = config.depth + max((len(docs) for docs in exclude.values()), default=0)
    runs: dict[str, CandidateArrays] = {}
    if "bm25" in sources:
        bm25 = BM25Index.build(corpus, config.bm25)
        runs["bm25"] = _arrays(
            lambda chunk: bm25_search(bm25, chunk, k), corpus, queries, exclude, config.depth
        )
    if "dense" in sources:
        index = index_corpus(encoder(), corpus, config.index, embedding_cache)
        vectors = encoder().encode_queries(list(queries.values()))  # once: a vector never depends on chunks
        row = {qid: i for i, qid in enumerate(queries)}

        def search(chunk: dict[str, str]) -> Run:
            return vector_search(index, list(chunk), vectors[[row[qid] for qid in chunk]], k)

        runs["dense"] = _arrays(search, corpus, queries, exclude, config.depth)
    return runs


def hybrid(dense: dict[str, float], lexical: dict[str, float], config: CandidatesConfig) -> dict[str, float]:
    """One query's dense and BM25 candidates fused as ``config.fusion`` says, ``depth`` best kept."""
    return fuse({"q": dense}, {"q": lexical}, config.fusion, config.depth).get("q", {})


def checkpoint_key(fields: dict[str, Any]) -> str:
    """sha256 (24 hex) of the JSON of what the candidates depend on."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:24]


def load_checkpoint(directory: Path, key: str) -> dict[str, CandidateArrays] | None:
    """The arrays saved under ``key`` (memory-mapped), or None when absent, unreadable or of another key."""
    try:
        saved = json.loads((directory / "key.json").read_text(encoding="utf-8"))
        if saved.get("key") != key:
            return None
        return {
            source: CandidateArrays(
                np.load(directory / f"{source}.docs.npy", mmap_mode="r"),
                np.load(directory / f"{source}.scores.npy", mmap_mode="r"),
            )
            for source in saved["sources"]
        }
    except (OSError, ValueError, KeyError, AttributeError):
        return None


def save_checkpoint(directory: Path, key: str, runs: dict[str, CandidateArrays]) -> None:
    """Write the arrays into a fresh temporary directory and rename it over ``directory`` (a crash leaves
    either the old checkpoint or none, never a half one); ``key.json`` is written last."""
    tmp = directory.with_name(f".{directory.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for source, arrays in runs.items():
        np.save(tmp / f"{source}.docs.npy", arrays.docs)
        np.save(tmp / f"{source}.scores.npy", arrays.scores)
    atomic_write_json(tmp / "key.json", {"key": key, "sources": list(runs)})
    replace_directory(tmp, directory)
