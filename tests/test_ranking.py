"""The rank order (retriever.retrieval.ranking) is the order pytrec_eval (trec_eval) evaluates a run in."""

from __future__ import annotations

import random

import numpy as np
import pytest
import pytrec_eval

from retriever.retrieval.ranking import ranked, ranked_items

IDS = ["a", "b", "Z", "10", "9", "doc-2", "doc-10", "é", "e", "ab", "ac", "D1", "d1", "0"]


def pytrec_eval_order(scores: dict[str, float]) -> list[str]:
    """The order pytrec_eval ranks ``scores`` in, read back through recip_rank: one query per document,
    the same scores, only that document relevant, so recip_rank = 1 / its rank."""
    run = {f"q{i}": dict(scores) for i in range(len(scores))}
    qrels = {f"q{i}": {doc: 1} for i, doc in enumerate(scores)}
    measured = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(run)
    rank = {doc: round(1 / measured[f"q{i}"]["recip_rank"]) for i, doc in enumerate(scores)}
    return sorted(scores, key=rank.__getitem__)


@pytest.mark.parametrize("seed", range(20))
def test_the_order_equals_pytrec_evals_on_tied_scores(seed):
    rng = random.Random(seed)
    ids = rng.sample(IDS, rng.randint(2, len(IDS)))
    levels = [rng.choice([0.5, 1.0, -2.0, 0.0]) for _ in range(3)]  # few distinct scores: many ties
    scores = {doc: rng.choice(levels) for doc in ids}
    assert ranked(scores) == pytrec_eval_order(scores)


def test_ties_go_to_the_larger_id_in_string_order():
    scores = {"9": 1.0, "10": 1.0, "a": 1.0, "B": 1.0, "z": 0.5, "top": 2.0}
    assert ranked(scores) == ["top", "a", "B", "9", "10", "z"]
    assert ranked_items(scores, 2) == [("top", 2.0), ("a", 1.0)]


def test_a_cut_is_the_prefix_of_the_full_order_and_scores_come_back_as_given():
    rng = np.random.default_rng(0)
    scores = {f"d{i}": np.float32(v) for i, v in enumerate(rng.choice([0.1, 0.2, 0.3], size=50))}
    full = ranked_items(scores)
    assert all(type(score) is np.float32 for _, score in full)
    for depth in (0, 1, 7, 49, 50, 80):
        assert ranked_items(scores, depth) == full[:depth]
    assert ranked({}) == [] and ranked({"x": 1.0}, 5) == ["x"]
