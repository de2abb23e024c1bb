"""How many in-batch "negatives" of sentence-transformers MNRL are in fact positives of the row's own query.

MNRL (one row per (query, positive), each with one hard negative) scores every row's query against every other
row's positive and negative. When documents are positives of many queries (NFCorpus: 110,575 pairs over 3,633
documents), some of those in-batch passages are known positives of the query, yet count as negatives; the
multi-positive losses mask them by document id. This samples ``--batches`` random batches of ``--rows`` rows (the
no-duplicates sampler only removes exact text repeats, which these are not) and prints the mean number and share
of such false negatives per row.

    python eval/mnrl_false_negatives.py eval/output/train_nfcorpus_runs/train-neg30-skip0.jsonl --rows 57
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retriever.data.training_file import read_training_file  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("training_file", type=Path)
    parser.add_argument("--rows", type=int, default=32, help="MNRL batch size (rows).")
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    examples = read_training_file(args.training_file)
    positives = {e.query_id: {p.id for p in e.positives} for e in examples}
    rows = [
        (e.query_id, p.id, e.negatives[j % len(e.negatives)].id)
        for e in examples
        if e.negatives
        for j, p in enumerate(e.positives)
    ]
    rng = random.Random(args.seed)
    false_negatives = in_batch = 0
    for _ in range(args.batches):
        batch = rng.sample(rows, args.rows)
        for query, _, _ in batch:
            others = [doc for other, pos, neg in batch if other != query for doc in (pos, neg)]
            false_negatives += sum(doc in positives[query] for doc in others)
            in_batch += len(others)
    per_row = false_negatives / (args.batches * args.rows)
    print(
        f"{args.training_file.name}: {len(rows)} MNRL rows, batch {args.rows}: {per_row:.2f} of "
        f"{in_batch / (args.batches * args.rows):.1f} in-batch negatives per row are positives of the row's "
        f"query ({false_negatives / in_batch:.1%})"
    )


if __name__ == "__main__":
    main()
