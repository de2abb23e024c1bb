"""The pairs a judge is measured on: a seeded sample of human labels, stratified by grade."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retriever.data.dataset import Dataset


@dataclass(frozen=True)
class LabelledPair:
    """A (query, passage) pair with its human grade; ``source`` is ``qrels`` or ``unjudged`` (BM25, grade 0)."""

    query_id: str
    doc_id: str
    grade: int
    source: str = "qrels"


def stratified_sample(dataset: Dataset, size: int, seed: int) -> list[LabelledPair]:
    """``size`` qrels pairs spread as evenly over the grades as their counts allow, in (query, doc) order.

    Allocation is water-filling: each grade gets ``size / (number of grades)``; a grade with fewer pairs gives
    all of them and its remainder is shared by the others. Within a grade pairs are drawn without replacement
    from ``numpy.random.default_rng([seed, grade])``, so one grade's draw does not depend on the others'.
    """
    by_grade: dict[int, list[tuple[str, str]]] = {}
    for query_id, judged in sorted(dataset.qrels.items()):
        if query_id not in dataset.queries:
            continue
        for doc_id, grade in sorted(judged.items()):
            by_grade.setdefault(grade, []).append((query_id, doc_id))
    quota = _allocate({grade: len(pairs) for grade, pairs in by_grade.items()}, size)
    chosen: list[LabelledPair] = []
    for grade, pairs in sorted(by_grade.items()):
        rng = np.random.default_rng([seed, grade - min(by_grade)])
        picks = rng.choice(len(pairs), size=quota[grade], replace=False)
        chosen += [LabelledPair(*pairs[i], grade) for i in sorted(picks.tolist())]
    return sorted(chosen, key=lambda pair: (pair.query_id, pair.doc_id))


def _allocate(available: dict[int, int], size: int) -> dict[int, int]:
    quota = dict.fromkeys(available, 0)
    left = min(size, sum(available.values()))
    open_grades = sorted(available)
    while left and open_grades:
        share, extra = divmod(left, len(open_grades))
        for position, grade in enumerate(list(open_grades)):
            take = min(share + (position < extra), available[grade] - quota[grade])
            quota[grade] += take
            left -= take
        open_grades = [g for g in open_grades if quota[g] < available[g]]
    return quota


def unjudged_pairs(
    dataset: Dataset, sampled: list[LabelledPair], count: int, seed: int
) -> list[LabelledPair]:
    """``count`` top-10 BM25 hits of the sampled queries that are not in the qrels, as grade 0."""
    if not count:
        return []
    from retriever.retrieval.bm25 import BM25Index

    queries = {pair.query_id: dataset.queries[pair.query_id] for pair in sampled}
    run = BM25Index.build(dataset.corpus).search(queries, 10)
    candidates = [
        (query_id, doc_id)
        for query_id in sorted(run)
        for doc_id in sorted(run[query_id])
        if doc_id not in dataset.qrels.get(query_id, {})
    ]
    rng = np.random.default_rng([seed, 1_000])
    picks = rng.choice(len(candidates), size=min(count, len(candidates)), replace=False)
    return [LabelledPair(*candidates[i], 0, "unjudged") for i in sorted(picks.tolist())]
