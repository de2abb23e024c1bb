"""One table from several ``bench_train.py`` outputs: runs that differ only in their seed are pooled
into one condition, and each condition's test nDCG@10 is compared with a reference condition by a paired
bootstrap interval and sign-flip test over the SciFact test queries.

    python eval/compare_runs.py eval/output/train_scifact_steps26*.json --reference train_scifact_steps26:mnrl

``--reference <file stem>:<objective>`` names one run; its condition (every setting but the seed) is the
reference. A condition's score per query is the mean over its seeds, and a comparison uses only the seeds the
two conditions share, so the difference is paired by query and by seed; an untrained row (BM25, the base model)
scores the same under every seed, so it is compared over the other condition's seeds. Runs without per-query scores (older
outputs) are listed without a comparison. ``--min-relevant K`` restricts the comparison to the test queries with
at least K relevant documents in the test qrels of ``--data`` (the per-seed and mean columns stay over all queries). Prints the
markdown table; ``--output`` also writes it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retriever.data.beir import read_beir  # noqa: E402
from retriever.eval.significance import paired_difference  # noqa: E402

CONDITION_SETTINGS = (
    "model", "epochs", "max_steps", "batch_size", "max_seq_length", "max_positives", "negatives", "skip_top",
    "scale", "test_queries", "dataset", "noise_rate", "dev_split", "similarity", "positive_cap", "precision",
    "mnrl_batch_size", "train_file", "attention_dropout", "hidden_dropout",
)  # fmt: skip


@dataclass
class Condition:
    """Runs of one objective under one set of settings, keyed by seed."""

    label: str
    test: dict[int, float] = field(default_factory=dict)
    per_query: dict[int, dict[str, float]] = field(default_factory=dict)
    untrained: bool = False  # BM25 or the base model: the same scores whatever the seed

    def scored_seeds(self) -> set[int] | None:
        """The seeds with per-query scores; None (any seed) for an untrained row that has them."""
        return None if self.untrained and self.per_query else set(self.per_query)

    def mean_per_query(self, seeds: list[int]) -> dict[str, float]:
        """Per-query nDCG@10 averaged over ``seeds`` (queries scored under every one of them); an untrained
        row's one set of scores stands for every seed."""
        if self.untrained:
            seeds = sorted(self.per_query)[:1]
        shared = set.intersection(*(set(self.per_query[seed]) for seed in seeds))
        return {qid: statistics.fmean(self.per_query[seed][qid] for seed in seeds) for qid in shared}


def condition_key(row: dict, settings: dict) -> tuple:
    """Everything that defines a run except its seed; MNRL always trains on one negative. An untrained
    reference row (BM25, the base model) is one condition per dataset."""
    if "lr" not in row:
        return ("reference", row["objective"], settings.get("dataset"))
    mnrl = row["objective"].split(" + ")[0] == "mnrl"  # also "mnrl + base (w=...)", its averaged model
    negatives = 1 if mnrl else settings["hard_negatives"]
    # false positives' source: bm25 before the option existed, and nothing to tell apart without noise
    noise_source = settings.get("noise_source", "bm25") if settings.get("noise_rate") else None
    # source-aware training (MNRL ignores it): none before the option existed
    aware = settings.get("source_aware", "none")
    sources = None if mnrl or aware == "none" else (aware, settings.get("staged_steps"))
    return (row["objective"], row["lr"], negatives, noise_source, sources) + tuple(
        settings.get(name) for name in CONDITION_SETTINGS
    )


def queries_with_relevant(data: Path, minimum: int) -> set[str]:
    """Test query ids of the BEIR dataset ``data`` with at least ``minimum`` documents of grade > 0."""
    qrels = read_beir(data, split="test").qrels
    return {qid for qid, grades in qrels.items() if sum(grade > 0 for grade in grades.values()) >= minimum}


def load_conditions(
    paths: list[Path], queries: set[str] | None = None, system: str = "test"
) -> tuple[dict[tuple, Condition], dict[str, tuple]]:
    """Conditions from every trained row of ``paths`` (per-query scores kept for ``queries`` only, all when None),
    and each ``<file stem>:<objective>`` run's condition."""
    conditions: dict[tuple, Condition] = {}
    run_names: dict[str, tuple] = {}
    for path in paths:
        payload = json.loads(path.read_text())
        settings = payload["settings"]
        for row in payload["rows"]:
            key = condition_key(row, settings)
            label = row["objective"]
            if "lr" in row:
                noise = settings.get("noise_rate") or 0
                label += (
                    f" (lr {row['lr']:g}, {key[2]} neg, {row['steps']} steps, {settings['max_seq_length']} tok"
                    + (f", noise {noise:g} {key[3]}" if noise else "")
                    + (f", on {settings['train_file']}" if settings.get("train_file") else "")
                    + ")"
                )
            means = row.get(system if system == "hybrid" else "test")
            if not means:  # no hybrid figure for this row
                continue
            condition = conditions.setdefault(key, Condition(label, untrained="lr" not in row))
            condition.test[settings["seed"]] = means["nDCG@10"]
            if row.get(f"{system}_per_query"):
                condition.per_query[settings["seed"]] = {
                    qid: score
                    for qid, score in row[f"{system}_per_query"].items()
                    if queries is None or qid in queries
                }
            run_names[f"{path.stem}:{row['objective']}"] = key
    return conditions, run_names


def comparison(condition: Condition, reference: Condition) -> str:
    """Paired difference over the seeds both conditions have per-query scores for."""
    own, theirs = condition.scored_seeds(), reference.scored_seeds()
    if own is None and theirs is None:  # two untrained rows: any one seed
        seeds = sorted(reference.per_query)[:1]
    else:
        seeds = sorted((own if theirs is None else theirs if own is None else own & theirs) or set())
    if condition is reference or not seeds:
        return ""
    difference = paired_difference(condition.mean_per_query(seeds), reference.mean_per_query(seeds))
    return f"{difference} (seeds {','.join(map(str, seeds))})"


def table(conditions: dict[tuple, Condition], reference: Condition) -> str:
    """Markdown: one row per condition, per-seed and mean test nDCG@10, paired difference from the reference."""
    lines = [
        f"| condition | seeds | test nDCG@10 per seed | mean | minus {reference.label} [95% CI], p |",
        "|---|---|---|---|---|",
    ]
    for condition in conditions.values():
        seeds = sorted(condition.test)
        per_seed = ", ".join(f"{condition.test[seed]:.4f}" for seed in seeds)
        lines.append(
            f"| {condition.label} | {','.join(map(str, seeds))} | {per_seed} | "
            f"{statistics.fmean(condition.test.values()):.4f} | {comparison(condition, reference)} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="bench_train.py JSON outputs")
    parser.add_argument(
        "--reference", required=True, help="<file stem>:<objective>; its condition is compared against"
    )
    parser.add_argument("--output", type=Path, default=None, help="also write the markdown here")
    parser.add_argument(
        "--min-relevant", type=int, default=None, help="compare on queries with >= K relevant docs"
    )
    parser.add_argument(
        "--data", type=Path, default=ROOT.parent / "shared" / "data" / "scifact", help="BEIR dataset (qrels)"
    )
    parser.add_argument(
        "--hybrid", action="store_true", help="compare the hybrid (RRF with BM25) scores instead of dense"
    )
    args = parser.parse_args()
    queries = queries_with_relevant(args.data, args.min_relevant) if args.min_relevant else None
    conditions, run_names = load_conditions(args.files, queries, "hybrid" if args.hybrid else "test")
    if args.reference not in run_names:
        raise SystemExit(f"--reference {args.reference!r} is not a run; runs: {sorted(run_names)}")
    reference = conditions[run_names[args.reference]]
    text = table(conditions, reference)
    print(text)
    if args.output is not None:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
