"""The one rank order of documents by score: trec_eval's.

trec_eval ignores a run's rank column: it orders each query's documents by score descending and breaks ties by
document id descending, in string order (``strcmp`` on the UTF-8 bytes, which is Python's code-point order).
Every ranking by score in this package uses it: fusion's input ranks, the metrics' top-k cuts and the TREC run
files we write, the hits the server returns, mine's candidate, teacher and positive orders and convert's BM25
negatives. A tie is therefore broken the same way wherever it occurs, and the way pytrec_eval sees it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def ranked_items(scores: Mapping[str, float], depth: int | None = None) -> list[tuple[str, float]]:
    """``(doc id, score)`` pairs in trec_eval order, the first ``depth`` of them (all when None).

    Scores are returned as given. With a ``depth`` below the number of documents, numpy finds the
    ``depth``-th best score first and only the documents scoring at least that much (ties included) are
    sorted, so cutting a long run is linear rather than a full sort; the result is the same."""
    items = list(scores.items())
    if depth is not None and 0 < depth < len(items):
        values = np.fromiter((score for _, score in items), dtype=np.float64, count=len(items))
        kth = np.partition(values, len(values) - depth)[len(values) - depth]
        items = [items[i] for i in np.flatnonzero(values >= kth).tolist()]
    return sorted(items, key=lambda item: (item[1], item[0]), reverse=True)[:depth]


def ranked(scores: Mapping[str, float], depth: int | None = None) -> list[str]:
    """The doc ids of :func:`ranked_items`."""
    return [doc for doc, _ in ranked_items(scores, depth)]
