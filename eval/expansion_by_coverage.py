"""Where document expansion with labelled queries helps and where it costs: the test queries split by whether any
of their relevant documents is labelled in the expansion split (and so was expanded), each group's nDCG@10 of a
plain and an expanded run of one model, paired over the group's queries (:mod:`retriever.eval.significance`).

    python eval/expansion_by_coverage.py --data ../shared/data/scifact --plain runs/x/dense_model/run.trec \
        --expanded runs/y/dense_docexp_model/run.trec
"""

from __future__ import annotations

import argparse

from retriever.data.loader import load_dataset
from retriever.eval.metrics import evaluate_run, read_trec_run
from retriever.eval.significance import paired_difference

METRIC = "nDCG@10"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="Dataset directory or name.")
    parser.add_argument("--split", default="test", help="The split the runs answer.")
    parser.add_argument(
        "--expand-with", default="train", help="The split whose labels expanded the documents."
    )
    parser.add_argument("--plain", required=True, help="TREC run without expansion.")
    parser.add_argument("--expanded", required=True, help="TREC run of the same model with expansion.")
    args = parser.parse_args()
    searched = load_dataset(args.data, args.split)
    labelled = load_dataset(args.data, args.expand_with, searched.corpus)
    expanded_docs = {doc for docs in labelled.qrels.values() for doc, grade in docs.items() if grade >= 1}
    scores = [
        {
            qid: values[METRIC]
            for qid, values in evaluate_run(searched.qrels, read_trec_run(path), [METRIC]).per_query.items()
        }
        for path in (args.plain, args.expanded)
    ]
    reached = {
        qid
        for qid, docs in searched.qrels.items()
        if any(g >= 1 and d in expanded_docs for d, g in docs.items())
    }
    print(
        f"{args.split} {METRIC}, documents expanded with {args.expand_with}'s labels ({len(expanded_docs)} documents)"
    )
    print(
        "\n| test queries | count | plain | expanded | expanded - plain [95% CI], p |\n|---|---|---|---|---|"
    )
    groups = [
        ("some relevant document labelled", reached),
        ("no relevant document labelled", set(scores[0]) - reached),
    ]
    for name, queries in groups:
        if queries:
            plain, expanded = ({q: s[q] for q in queries} for s in scores)
            print(
                f"| {name} | {len(queries)} | {sum(plain.values()) / len(plain):.4f} | "
                f"{sum(expanded.values()) / len(expanded):.4f} | {paired_difference(expanded, plain)} |"
            )


if __name__ == "__main__":
    main()
