"""Candidate passages per training query from BM25, dense retrieval and their fusion; known positives apart.

Each source retrieves ``depth + |known positives|`` passages per query, drops the query's known positives
(qrels at or above ``min_qrels_grade``) and keeps the best ``depth``: a source run never contains a positive.
Dense retrieval encodes the corpus through the shared memory-mapped embedding cache and searches FAISS in
chunks. The runs are checkpointed in ``candidates.json`` under a key of everything they depend on, so a rerun
(or a resumed crash) reads them back instead of retrieving again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from retriever.data.dataset import Corpus, Run
from retriever.files import atomic_write_json
from retriever.mine.config import CandidatesConfig, Source
from retriever.retrieval.fusion import cut, fuse


def without(run: Run, exclude: Mapping[str, set[str]], depth: int) -> Run:
    """Each query's ``depth`` best passages that are not in ``exclude[query]``."""
    return {
        qid: cut({doc: s for doc, s in scores.items() if doc not in exclude.get(qid, set())}, depth)
        for qid, scores in run.items()
    }


def retrieve(
    corpus: Corpus,
    queries: dict[str, str],
    exclude: Mapping[str, set[str]],
    sources: list[Source],
    config: CandidatesConfig,
    encoder: Callable[[], Any],
    embedding_cache: Any,
) -> dict[str, Run]:
    """{source: run} for ``sources``; ``encoder()`` gives the (lazily loaded) bi-encoder for dense search."""
    from retriever.retrieval.bm25 import BM25Index
    from retriever.retrieval.search import bm25_search, dense_search, index_corpus

    k = config.depth + max((len(docs) for docs in exclude.values()), default=0)
    runs: dict[str, Run] = {}
    if "bm25" in sources:
        runs["bm25"] = bm25_search(BM25Index.build(corpus, config.bm25), queries, k)
    if "dense" in sources:
        index = index_corpus(encoder(), corpus, config.index, embedding_cache)
        runs["dense"] = dense_search(encoder(), index, queries, k)
    return {source: without(run, exclude, config.depth) for source, run in runs.items()}


def hybrid(runs: Mapping[str, Run], config: CandidatesConfig) -> Run:
    """The dense and BM25 runs fused as ``config.fusion`` says, ``depth`` best kept."""
    return fuse(runs["dense"], runs["bm25"], config.fusion, config.depth)


def checkpoint_key(fields: dict[str, Any]) -> str:
    """sha256 (24 hex) of the JSON of what the candidates depend on."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:24]


def load_checkpoint(path: Path, key: str) -> dict[str, Run] | None:
    """The runs saved under ``key``, or None when absent, unreadable or saved under another key."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return saved["runs"] if isinstance(saved, dict) and saved.get("key") == key else None


def save_checkpoint(path: Path, key: str, runs: dict[str, Run]) -> None:
    """Write the runs atomically (:mod:`retriever.files`)."""
    atomic_write_json(path, {"key": key, "runs": runs}, indent=None)
