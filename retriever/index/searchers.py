"""Dense, BM25 and hybrid searchers over a loaded index directory, for the HTTP app.

Each searcher is the shared search path (:mod:`retriever.retrieval.search`) applied to a batch of query texts:
query ``i`` is keyed ``"i"`` in the ``Run``, and each query's hits come back best first (ties by doc id,
:func:`retriever.retrieval.ranking.ranked_items`), so the server returns exactly what in-process search returns.
"""

from __future__ import annotations

from collections.abc import Callable

from retriever.data.dataset import Run
from retriever.errors import InputError
from retriever.index.directory import LoadedIndex
from retriever.retrieval.config import FeedbackConfig, FusionConfig
from retriever.retrieval.ranking import ranked_items
from retriever.retrieval.search import bm25_search, dense_search, hybrid_search

Hits = list[tuple[str, float]]


class RunSearcher:
    """Adapts ``run_fn(queries_by_id, k) -> Run`` to the app's ``search(texts, k) -> [hits per query]``."""

    def __init__(self, run_fn: Callable[[dict[str, str], int], Run]) -> None:
        self.run_fn = run_fn

    def search(self, queries: list[str], k: int) -> list[Hits]:
        run = self.run_fn({str(i): query for i, query in enumerate(queries)}, k)
        hits = []
        for i in range(len(queries)):
            hits.append(ranked_items(run.get(str(i), {}), k))
        return hits


def make_searcher(
    index: LoadedIndex,
    retriever: str,
    fusion: FusionConfig | None = None,
    feedback: FeedbackConfig | None = None,
) -> RunSearcher:
    """The searcher for ``retriever`` (dense, bm25 or hybrid) over ``index``; ``feedback`` acts on the dense
    search of dense and hybrid."""
    if retriever != "dense" and index.bm25 is None:
        raise InputError(f"--retriever {retriever} needs an index built with --bm25", path=index.directory)
    if retriever == "dense":
        return RunSearcher(lambda queries, k: dense_search(index.encoder, index.dense, queries, k, feedback))
    if retriever == "bm25":
        return RunSearcher(lambda queries, k: bm25_search(index.bm25, queries, k))
    if retriever == "hybrid":
        return RunSearcher(
            lambda queries, k: hybrid_search(
                index.encoder, index.dense, index.bm25, queries, k, fusion, feedback
            )
        )
    raise InputError(f"unknown retriever {retriever!r} (dense, bm25 or hybrid)", field="retriever")
