"""One table from several ``bench_train_scifact.py`` outputs, each row's test nDCG@10 compared with a reference
row by a paired bootstrap interval and sign-flip test over the SciFact test queries.

    python eval/compare_runs.py eval/output/train_scifact_steps26.json \\
        eval/output/train_scifact_steps26_neg3.json --reference train_scifact_steps26:mnrl

A row is named ``<file stem>:<objective>``; rows without per-query scores (older outputs) are listed without
a comparison. Prints the markdown table; ``--output`` also writes it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retriever.eval.significance import paired_difference  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="bench_train_scifact.py JSON outputs")
    parser.add_argument("--reference", required=True, help="<file stem>:<objective> compared against")
    parser.add_argument("--output", type=Path, default=None, help="also write the markdown here")
    args = parser.parse_args()
    rows = {}
    for path in args.files:
        payload = json.loads(path.read_text())
        settings = payload["settings"]
        for row in payload["rows"]:
            if "lr" in row:  # trained rows only (bm25/base reference rows carry no settings)
                rows[f"{path.stem}:{row['objective']}"] = (row, settings)
    if args.reference not in rows:
        raise SystemExit(f"--reference {args.reference!r} is not a row; rows: {sorted(rows)}")
    reference = rows[args.reference][0].get("test_per_query")
    lines = [
        f"| run:objective | seed | negatives per query | steps | train min | test nDCG@10 | "
        f"minus {args.reference} [95% CI], p |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, (row, settings) in rows.items():
        per_query = row.get("test_per_query")
        delta = ""
        if name != args.reference and per_query and reference:
            delta = str(paired_difference(per_query, reference))
        negatives = 1 if row["objective"] == "mnrl" else settings["hard_negatives"]
        lines.append(
            f"| {name} | {settings['seed']} | {negatives} (of {settings['negatives']} stored) | {row['steps']} | "
            f"{row['train_seconds'] / 60:.1f} | {row['test']['nDCG@10']:.4f} | {delta} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output is not None:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
