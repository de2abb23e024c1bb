"""A user's label budget, simulated: K of a dataset's labelled train queries, drawn with a seed.

Writes what `retriever train` and `retriever eval --expand-with` read for those K queries only, so a model
trained and an index expanded with a few labels can be scored on the untouched dev split:

- ``OUTPUT/<the dataset folder's name>``: a BEIR folder whose corpus, queries and other qrels files are links to the dataset's, plus
  ``qrels/train-K-sSEED.tsv``, the train qrels rows of the K drawn queries;
- ``OUTPUT/train-K-sSEED.jsonl``: the rows of a mined training file (``retriever mine`` on all of train) for
  those queries. Mining treats each query on its own (its BM25 candidates and its teacher-filtered negatives),
  so this is the file mining the K queries alone would write.

The K queries are a seeded sample (``random.Random(seed).sample``) of the training file's queries. Budgets drawn at
one seed are not independent: that sample may start alike for nearby sizes (at seed 42 the 50 queries are the
first 50 of the 200; the 800 are another draw), so budgets are compared through their seeds' spread, not paired.

    python eval/label_subsets.py --data ../shared/data/nfcorpus --training-file runs/nfcorpus/mined/train.jsonl \
        --output runs/label_budget --queries 50 --seed 42
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

from retriever.data.training_file import read_training_file, write_training_file


def link_dataset(data: Path, target: Path) -> None:
    """``target`` mirrors the BEIR folder ``data`` through links (qrels file by file, so subsets can be added)."""
    (target / "qrels").mkdir(parents=True, exist_ok=True)
    for path in [*data.glob("corpus.jsonl*"), *data.glob("queries.jsonl*"), *data.glob("qrels/*.tsv")]:
        link = target / path.relative_to(data)
        if not link.exists():
            link.symlink_to(path.resolve())


def write_qrels_subset(source: Path, target: Path, query_ids: set[str]) -> int:
    """Copy the header and the rows of ``source`` whose query is in ``query_ids``; returns the rows written."""
    with (
        source.open(encoding="utf-8", newline="") as read,
        target.open("w", encoding="utf-8", newline="") as out,
    ):
        rows = csv.reader(read, delimiter="\t")
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(next(rows))
        kept = [row for row in rows if row and row[0] in query_ids]
        writer.writerows(kept)
    return len(kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="BEIR folder with qrels/train.tsv")
    parser.add_argument(
        "--training-file", type=Path, required=True, help="`retriever mine` output on all of train"
    )
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--queries", type=int, required=True, help="K, the number of labelled queries")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    examples = read_training_file(args.training_file)
    if not 0 < args.queries <= len(examples):
        raise SystemExit(f"--queries must be in 1..{len(examples)}, got {args.queries}")
    drawn = random.Random(args.seed).sample(examples, args.queries)
    name = f"train-{args.queries}-s{args.seed}"
    mirror = args.output / args.data.resolve().name
    link_dataset(args.data, mirror)
    rows = write_qrels_subset(
        args.data / "qrels" / "train.tsv", mirror / "qrels" / f"{name}.tsv", {e.query_id for e in drawn}
    )
    write_training_file(args.output / f"{name}.jsonl", drawn)
    print(f"{name}: {args.queries} queries, {rows} qrels rows -> {args.output}")


if __name__ == "__main__":
    main()
