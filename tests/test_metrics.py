"""Metrics: equal to pytrec_eval called directly (hypothesis), hand-computed examples, trec_eval ordering, run
files, self-hit removal, DPR answer accuracy, speed."""

from __future__ import annotations

import math
import random
import time

import numpy as np
import pytest
import pytrec_eval
from hypothesis import given, settings
from hypothesis import strategies as st

from retriever.data.dataset import Corpus
from retriever.errors import InputError
from retriever.eval.metrics import (
    answer_accuracy,
    evaluate_run,
    rank_run,
    read_trec_run,
    remove_self_hits,
    write_trec_run,
)

QUERY_IDS = [f"q{i}" for i in range(5)]
DOC_IDS = [f"d{i}" for i in range(9)]
# each metric, the trec_eval measure that defines it, and how to read the value (MRR@k from recip_rank)
REFERENCE = {
    "nDCG@3": "ndcg_cut.3",
    "nDCG@10": "ndcg_cut.10",
    "Recall@2": "recall.2",
    "Recall@5": "recall.5",
    "P@1": "P.1",
    "P@5": "P.5",
    "MAP@4": "map_cut.4",
    "MAP": "map",
    "MRR@1": "recip_rank",
    "MRR@3": "recip_rank",
}

qrels_strategy = st.dictionaries(
    st.sampled_from(QUERY_IDS),
    st.dictionaries(st.sampled_from(DOC_IDS), st.integers(0, 3), min_size=1, max_size=6),
    min_size=1,
)
# few distinct scores, so ties are frequent; documents outside the qrels; queries missing or empty
run_strategy = st.dictionaries(
    st.sampled_from(QUERY_IDS),
    st.dictionaries(st.sampled_from(DOC_IDS), st.sampled_from([0.0, 0.25, 0.5, 1.0, -1.5]), max_size=9),
)


def reference_values(qrels, run, threshold):
    """Per-query values from pytrec_eval on the full run as ``trec_eval -c`` scores it: every query with a
    relevant judgment, those without results given an empty ranking (0); none when no such query is in the run."""
    evaluated = {q for q, docs in qrels.items() if any(g >= threshold for g in docs.values())}
    if not evaluated & set(run):
        return {}
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, set(REFERENCE.values()), relevance_level=threshold)
    raw = evaluator.evaluate({q: run.get(q, {}) for q in evaluated})
    values = {}
    for q in evaluated:
        values[q] = {}
        for metric, measure in REFERENCE.items():
            value = raw[q][measure.replace(".", "_")]
            if metric.startswith("MRR@"):  # reciprocal rank counted only when the first hit is within k
                k = int(metric.split("@")[1])
                value = value if value > 0 and round(1 / value) <= k else 0.0
            values[q][metric] = value
    return values


@settings(max_examples=150, deadline=None)
@given(qrels=qrels_strategy, run=run_strategy, threshold=st.sampled_from([1, 2]))
def test_every_metric_equals_pytrec_eval_per_query(qrels, run, threshold):
    expected = reference_values(qrels, run, threshold)
    if not expected:
        with pytest.raises(InputError, match="none of the queries"):
            evaluate_run(qrels, run, list(REFERENCE), relevance_threshold=threshold)
        return
    result = evaluate_run(qrels, run, list(REFERENCE), relevance_threshold=threshold)
    assert set(result.per_query) == set(expected)
    for q, values in expected.items():
        for metric, value in values.items():
            assert result.per_query[q][metric] == pytest.approx(value, abs=1e-6), (q, metric)
    for metric in REFERENCE:
        assert result.mean[metric] == pytest.approx(
            sum(values[metric] for values in expected.values()) / len(expected), abs=1e-6
        )
    relevant = [q for q, docs in qrels.items() if any(g >= threshold for g in docs.values())]
    assert result.missing == [q for q in relevant if not run.get(q)]


# Hand example. Query "h": grades a=3, b=1, e=2, c=0; ranking c, a, x, b, e (x unjudged).
HAND_QRELS = {"h": {"a": 3, "b": 1, "c": 0, "e": 2}}
HAND_RUN = {"h": {"c": 0.9, "a": 0.8, "x": 0.7, "b": 0.6, "e": 0.5}}
LOG2_3 = math.log2(3)
HAND_EXPECTED = {
    1: {
        "MRR@1": 0.0,
        "MRR@10": 1 / 2,
        "P@2": 1 / 2,
        "P@5": 3 / 5,
        "Recall@2": 1 / 3,
        "Recall@4": 2 / 3,
        "MAP@4": (1 / 2 + 2 / 4) / 3,
        "MAP": (1 / 2 + 2 / 4 + 3 / 5) / 3,
        # gains are grades, discount log2(rank + 1); ideal order 3, 2, 1
        "nDCG@3": (3 / LOG2_3) / (3 / 1 + 2 / LOG2_3 + 1 / 2),
        "nDCG@5": (3 / LOG2_3 + 1 / math.log2(5) + 2 / math.log2(6)) / (3 + 2 / LOG2_3 + 1 / 2),
    },
    2: {  # binary relevance: only a and e are relevant; nDCG keeps graded gains
        "MRR@1": 0.0,
        "MRR@10": 1 / 2,
        "P@2": 1 / 2,
        "P@5": 2 / 5,
        "Recall@2": 1 / 2,
        "Recall@4": 1 / 2,
        "MAP@4": (1 / 2) / 2,
        "MAP": (1 / 2 + 2 / 5) / 2,
        "nDCG@3": (3 / LOG2_3) / (3 / 1 + 2 / LOG2_3 + 1 / 2),
        "nDCG@5": (3 / LOG2_3 + 1 / math.log2(5) + 2 / math.log2(6)) / (3 + 2 / LOG2_3 + 1 / 2),
    },
}


@pytest.mark.parametrize("threshold", [1, 2])
def test_hand_computed_example(threshold):
    expected = HAND_EXPECTED[threshold]
    result = evaluate_run(HAND_QRELS, HAND_RUN, list(expected), relevance_threshold=threshold)
    assert result.per_query["h"] == pytest.approx(expected, abs=1e-12)
    assert result.mean == pytest.approx(expected, abs=1e-12)


def test_ties_are_broken_by_doc_id_descending_as_trec_eval_does():
    qrels = {"t": {"a": 1}}
    run = {"t": {"a": 1.0, "b": 1.0, "z": 0.5}}  # trec_eval order: b, a, z
    assert rank_run(run) == {"t": [("b", 1.0), ("a", 1.0), ("z", 0.5)]}
    result = evaluate_run(qrels, run, ["MRR@1", "MRR@2", "P@1", "nDCG@1"])
    assert result.mean == {"MRR@1": 0.0, "MRR@2": 0.5, "P@1": 0.0, "nDCG@1": 0.0}


def test_rank_run_cut_keeps_ties_in_order_and_accepts_numpy_scores():
    docs = {f"d{i}": np.float32(score) for i, score in enumerate([0.5, 0.9, 0.5, 0.5, 0.1, 0.9])}
    full = rank_run({"q": docs})["q"]
    assert [doc for doc, _ in full] == ["d5", "d1", "d3", "d2", "d0", "d4"]
    for depth in range(1, 7):
        assert [doc for doc, _ in rank_run({"q": docs}, depth)["q"]] == [doc for doc, _ in full[:depth]]
    result = evaluate_run({"q": {"d2": 1}}, {"q": docs}, ["MRR@10", "MAP"])
    assert result.mean == {"MRR@10": 0.25, "MAP": 0.25}


def test_which_queries_are_averaged():
    qrels = {
        "hit": {"a": 2},
        "miss": {"a": 1, "b": 2},  # relevant but absent from the run: scores 0 (trec_eval -c), reported
        "empty": {"a": 2},  # in the run with no documents: scores 0, reported
        "graded1": {"a": 1},  # no grade >= 2: not evaluated at threshold 2
        "nonrel": {"a": 0},  # never evaluated
    }
    run = {"hit": {"a": 1.0}, "empty": {}, "graded1": {"a": 1.0}, "nonrel": {"a": 1.0}, "extra": {"a": 1.0}}
    result = evaluate_run(qrels, run, ["MRR@10", "Recall@10"], relevance_threshold=2)
    assert set(result.per_query) == {"hit", "miss", "empty"} and result.missing == ["miss", "empty"]
    assert result.per_query["empty"] == result.per_query["miss"] == {"MRR@10": 0.0, "Recall@10": 0.0}
    assert result.mean == pytest.approx({"MRR@10": 1 / 3, "Recall@10": 1 / 3})
    assert set(evaluate_run(qrels, run, ["MAP"]).per_query) == {"hit", "miss", "empty", "graded1"}


@pytest.mark.parametrize("metric", ["NDCG@10", "nDCG", "MRR", "Recall@0", "MAP@", "F1@10", "P@-1"])
def test_unknown_metric_names(metric):
    with pytest.raises(InputError, match="unknown metric") as error:
        evaluate_run(HAND_QRELS, HAND_RUN, [metric])
    assert error.value.field == "metrics"


def test_remove_self_hits():
    run = {"q1": {"q1": 9.0, "d1": 1.0}, "d1": {"d1": 2.0, "q1": 1.0}}
    assert remove_self_hits(run) == {"q1": {"d1": 1.0}, "d1": {"q1": 1.0}}


def test_answer_accuracy_follows_dpr_has_answer():
    corpus = Corpus(
        ids=["p1", "p2", "p3", "p4"],
        titles=["Paris", "", "Art", ""],
        texts=[
            "The city lies on the Seine.",  # answer only in the title: not a hit
            "Smart people visit PARIS, France.",  # "paris" matches any case; "art" is no token
            "Nothing to see.",
            "Émile Zola was born in Paris.",
        ],
    )
    answers = {"a": ["Paris"], "b": ["art"], "c": ["Emile Zola"], "d": ["Paris"]}
    run = {
        "a": {"p1": 3.0, "p2": 2.0, "p3": 1.0},  # first hit at rank 2
        "b": {"p2": 2.0, "p3": 1.0, "p1": 0.5},  # never: the title "Art" is excluded, "smart" is one token
        "c": {"p4": 1.0},  # DPR keeps accents after NFD: "Émile" does not match "Emile"
    }  # "d" is absent from the run: a miss
    assert answer_accuracy(run, answers, corpus, ks=(1, 2, 5)) == {
        "Accuracy@1": 0.0,
        "Accuracy@2": 0.25,
        "Accuracy@5": 0.25,
    }
    assert answer_accuracy({"d": {"p4": 1.0}}, {"d": ["paris."]}, corpus, ks=(1,)) == {"Accuracy@1": 1.0}
    assert answer_accuracy({"c": {"p4": 1.0}}, {"c": ["Émile Zola"]}, corpus, ks=(1,)) == {"Accuracy@1": 1.0}
    with pytest.raises(InputError, match="'ghost', which is not in the corpus"):
        answer_accuracy({"a": {"ghost": 1.0}}, {"a": ["x"]}, corpus, ks=(1,))


def test_trec_run_round_trip_in_trec_eval_order(tmp_path):
    run = {"q2": {"b": 0.1 + 0.2, "a": 0.3, "c": 1e-17}, "q1": {"z": -2.5}}
    path = tmp_path / "runs" / "bm25.trec"
    write_trec_run(run, path, "bm25")
    lines = path.read_text().splitlines()
    assert lines[:2] == ["q2 Q0 b 1 0.30000000000000004 bm25", "q2 Q0 a 2 0.3 bm25"]
    assert lines[3] == "q1 Q0 z 1 -2.5 bm25"
    assert read_trec_run(path) == run
    with pytest.raises(InputError, match="without spaces"):
        write_trec_run(run, path, "my run")
    with pytest.raises(InputError, match="ids cannot contain spaces"):
        write_trec_run({"q 1": {"d": 1.0}}, tmp_path / "bad.trec", "tag")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["bm25.trec"]  # nothing half-written


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("q1 Q0 d1 1 0.5 tag\nq1 Q0 d2 2 0.4\n", 2, "tag", "found 5"),
        ("q1 Q0 d1 one 0.5 tag\n", 1, "rank", "'one' is not a number"),
        ("q1 Q0 d1 1 high tag\n", 1, "score", "'high' is not a number"),
        ("q1 Q0 d1 1 0.5 tag\n\nq1 Q0 d1 2 0.4 tag\n", 3, "docid", "appears twice"),
        ("q1,Q0,d1,1,0.5,tag\n", 1, "Q0", "found 1"),
    ],
)
def test_malformed_run_files(tmp_path, text, line, field, message):
    path = tmp_path / "run.trec"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as error:
        read_trec_run(path)
    assert (error.value.path, error.value.line, error.value.field) == (str(path), line, field)


def test_thousand_queries_by_thousand_docs_is_fast():
    rng = random.Random(0)
    qrels = {str(q): {str(rng.randrange(1000)): rng.randrange(4) for _ in range(20)} for q in range(1000)}
    run = {str(q): {str(d): rng.random() for d in range(1000)} for q in range(1000)}
    start = time.perf_counter()
    evaluate_run(qrels, run, ["nDCG@10", "MRR@10", "Recall@100", "MAP@100", "P@10"])
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"{elapsed:.2f} s"
