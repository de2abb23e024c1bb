"""Paired comparison of TREC run files on one dataset's qrels: each run's mean metric and its difference from
a reference run (95% bootstrap interval and sign-flip p over the queries, :mod:`retriever.eval.significance`).

For runs written by different ``retriever eval`` / ``retriever run`` invocations (a recipe's eval stage and a
separate base-model eval, say), which their own reports cannot pair.

    python eval/compare_trec_runs.py --data ../shared/data/nfcorpus --reference base=runs/nfcorpus/eval/dense_s.../run.trec \
        model=runs/nfcorpus/eval/dense_model/run.trec
"""

from __future__ import annotations

import argparse

from retriever.data.loader import load_dataset
from retriever.eval.metrics import evaluate_run, read_trec_run
from retriever.eval.significance import paired_difference


def named(text: str) -> tuple[str, str]:
    name, _, path = text.partition("=")
    if not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name, path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="Dataset directory or name (its qrels).")
    parser.add_argument("--split", default="test")
    parser.add_argument("--metric", default="nDCG@10")
    parser.add_argument("--reference", required=True, type=named, help="NAME=run file compared against.")
    parser.add_argument("runs", nargs="+", type=named, help="NAME=run file.")
    args = parser.parse_args()
    qrels = load_dataset(args.data, args.split).qrels
    per_query = {
        name: evaluate_run(qrels, read_trec_run(path), [args.metric]).per_query
        for name, path in [args.reference, *args.runs]
    }
    values = {name: {q: v[args.metric] for q, v in rows.items()} for name, rows in per_query.items()}
    reference = args.reference[0]
    print(f"| {args.data} {args.split} | {args.metric} | - {reference} [95% CI], p |")
    print("|---|---|---|")
    for name in values:
        mean = sum(values[name].values()) / len(values[name])
        difference = "" if name == reference else str(paired_difference(values[name], values[reference]))
        print(f"| {name} | {mean:.4f} | {difference} |")


if __name__ == "__main__":
    main()
