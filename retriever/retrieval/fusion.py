"""Combine rankings of the same queries: reciprocal rank fusion and min-max score interpolation.

- RRF (Cormack et al., 2009): ``score(d) = sum_r 1 / (k + rank_r(d))`` over the runs that retrieved ``d``,
  ranks 1-based, ``k = 60``.
- Interpolation: per query, each run's scores are min-max normalised, ``s' = (s - min) / (max - min)``
  (1.0 when all scores are equal), a document a run did not retrieve gets 0 in that run, and
  ``score(d) = alpha * s'_first(d) + (1 - alpha) * s'_second(d)``.

Input ranks and the ``depth`` and ``k`` cuts follow :mod:`retriever.retrieval.ranking` (score descending,
ties by document id descending: trec_eval's order), so fusion is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

from retriever.data.dataset import Run
from retriever.retrieval.config import FusionConfig
from retriever.retrieval.ranking import ranked, ranked_items


def cut(scores: dict[str, float], depth: int | None) -> dict[str, float]:
    """The ``depth`` best of one query's scores (all when ``depth`` is None), in rank order."""
    return dict(ranked_items(scores, depth))


def top_k(run: Run, k: int | None) -> Run:
    """Keep the ``k`` best documents of every query."""
    return {qid: cut(scores, k) for qid, scores in run.items()}


def reciprocal_rank_fusion(runs: Sequence[Run], k: int = 60, depth: int | None = None) -> Run:
    """RRF of ``runs`` over the union of their queries, each run cut at ``depth`` first."""
    fused: Run = {}
    for run in runs:
        for qid, scores in run.items():
            target = fused.setdefault(qid, {})
            for rank, doc in enumerate(ranked(scores, depth), start=1):
                target[doc] = target.get(doc, 0.0) + 1.0 / (k + rank)
    return fused


def _min_max(scores: dict[str, float]) -> dict[str, float]:
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high == low:
        return dict.fromkeys(scores, 1.0)
    return {doc: (score - low) / (high - low) for doc, score in scores.items()}


def interpolate(first: Run, second: Run, alpha: float = 0.5, depth: int | None = None) -> Run:
    """``alpha * minmax(first) + (1 - alpha) * minmax(second)`` per query, each run cut at ``depth`` first."""
    fused: Run = {}
    for qid in first.keys() | second.keys():
        a = _min_max(cut(first.get(qid, {}), depth))
        b = _min_max(cut(second.get(qid, {}), depth))
        fused[qid] = {
            doc: alpha * a.get(doc, 0.0) + (1 - alpha) * b.get(doc, 0.0) for doc in a.keys() | b.keys()
        }
    return fused


def fuse(dense: Run, lexical: Run, config: FusionConfig | None = None, k: int | None = None) -> Run:
    """Fuse a dense and a BM25 run as ``config`` says (RRF or interpolation with alpha on the dense side),
    keeping the ``k`` best documents per query."""
    config = config or FusionConfig()
    if config.method == "rrf":
        fused = reciprocal_rank_fusion([dense, lexical], k=config.rrf_k, depth=config.depth)
    else:
        fused = interpolate(dense, lexical, alpha=config.alpha, depth=config.depth)
    return top_k(fused, k)
