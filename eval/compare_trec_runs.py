"""Paired comparison of TREC run files on one dataset's qrels: each run's mean metric and its difference from
a reference run (95% bootstrap interval and sign-flip p over the queries, :mod:`retriever.eval.significance`).

For runs written by different ``retriever eval`` / ``retriever run`` invocations (a recipe's eval stage and a
separate base-model eval, say), which their own reports cannot pair.

    python eval/compare_trec_runs.py --data ../shared/data/nfcorpus --reference base=runs/nfcorpus/eval/dense_s.../run.trec \
        model=runs/nfcorpus/eval/dense_model/run.trec

Several seeds of one system: ``NAME=seed42/run.trec,seed43/run.trec``. A system's score for a query is then
the mean over its runs, and two systems with several runs each are paired by query on those means (as
``eval/compare_runs.py`` pools seeds); list the runs of every such system in the same seed order.

A run may also be a row of an ``eval/bench_train.py`` output, ``FILE.json:OBJECTIVE`` (its dense test scores)
or ``FILE.json:OBJECTIVE:hybrid`` (the benchmark's RRF fusion with BM25), read from the per-query nDCG@10 the
file stores (test split, nDCG@10 only), so a model trained by the benchmark pairs with a recipe's runs without
being encoded again.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from retriever.data.loader import load_dataset
from retriever.eval.metrics import evaluate_run, read_trec_run
from retriever.eval.significance import paired_difference


def named(text: str) -> tuple[str, list[str]]:
    name, _, paths = text.partition("=")
    if not paths:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH[,PATH...], got {text!r}")
    return name, paths.split(",")


def bench_row_scores(path: str, split: str, metric: str) -> dict[str, float]:
    """Per-query scores of ``FILE.json:OBJECTIVE[:hybrid]``, a row of an ``eval/bench_train.py`` output."""
    file, _, row = path.partition(".json:")
    objective, _, system = row.partition(":")
    if (split, metric) != ("test", "nDCG@10") or system not in ("", "hybrid"):
        raise SystemExit(f"{path}: a bench_train.py row has test nDCG@10 per query (dense or :hybrid) only")
    rows = [r for r in json.loads(Path(file + ".json").read_text())["rows"] if r["objective"] == objective]
    if len(rows) != 1:
        raise SystemExit(f"{file}.json: {len(rows)} rows with objective {objective!r}, expected 1")
    return rows[0]["hybrid_per_query" if system else "test_per_query"]


def run_scores(qrels, path: str, metric: str, split: str) -> dict[str, float]:
    """Per-query ``metric`` of one run: a TREC run file scored on ``qrels``, or a bench_train.py row."""
    if ".json:" in path:
        return bench_row_scores(path, split, metric)
    per_query = evaluate_run(qrels, read_trec_run(path), [metric]).per_query
    return {query: values[metric] for query, values in per_query.items()}


def average_runs(per_run: list[dict[str, float]]) -> dict[str, float]:
    """Per query, the mean of several runs' per-query scores (one run per seed)."""
    return {query: sum(run[query] for run in per_run) / len(per_run) for query in per_run[0]}


def seed_mean(qrels, paths: list[str], metric: str, split: str) -> dict[str, float]:
    """Per query, ``metric`` averaged over the runs in ``paths`` (one run per seed)."""
    return average_runs([run_scores(qrels, path, metric, split) for path in paths])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="Dataset directory or name (its qrels).")
    parser.add_argument("--split", default="test")
    parser.add_argument("--metric", default="nDCG@10")
    parser.add_argument("--reference", required=True, type=named, help="NAME=run file compared against.")
    parser.add_argument("runs", nargs="+", type=named, help="NAME=run file.")
    args = parser.parse_args()
    qrels = load_dataset(args.data, args.split).qrels
    values = {
        name: seed_mean(qrels, paths, args.metric, args.split) for name, paths in [args.reference, *args.runs]
    }
    reference = args.reference[0]
    print(f"| {args.data} {args.split} | {args.metric} | - {reference} [95% CI], p |")
    print("|---|---|---|")
    for name in values:
        mean = sum(values[name].values()) / len(values[name])
        difference = "" if name == reference else str(paired_difference(values[name], values[reference]))
        print(f"| {name} | {mean:.4f} | {difference} |")


if __name__ == "__main__":
    main()
