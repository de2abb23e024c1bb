"""The label-budget table and figure of ``eval/run_label_budget.sh``: what K labelled queries buy on dev.

For each budget K (``ROOT/train-K-sSEED`` folders, K = ``all`` for the full train split) and each retriever
(dense, hybrid), the dev nDCG@10 of the base model with the index expanded by the K queries, of the model
fine-tuned on them, and of both, each averaged over the seeds (per query, then over queries) and paired with the
base model on the plain index (95% bootstrap interval and sign-flip p, :mod:`retriever.eval.significance`); the
last column pairs fine-tuned + expansion with the base + expansion (what training adds once the index is
expanded). Writes ``OUTPUT.md`` and ``OUTPUT.png``.

    python eval/label_budget_table.py --root runs/label_budget --output eval/output/nfcorpus_label_budget
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path

from compare_trec_runs import seed_mean
from tuning_table import mean

from retriever.data.loader import load_dataset
from retriever.eval.significance import paired_difference

BASE = "sentence-transformers_all-MiniLM-L6-v2"
RETRIEVERS = ("dense", "hybrid")
# system -> (eval folder, run folder pattern), {r} the retriever
SYSTEMS = {
    "base": ("eval_dev", "{r}_" + BASE),
    "base + docexp": ("eval_dev_docexp", "{r}_docexp_" + BASE),
    "fine-tuned": ("eval_dev", "{r}_model"),
    "fine-tuned + docexp": ("eval_dev_docexp", "{r}_docexp_model"),
}


def budgets(root: Path) -> dict[str, list[Path]]:
    """``{K: [one folder per evaluated seed]}``, K ascending and ``all`` last."""
    found: dict[str, list[Path]] = defaultdict(list)
    for folder in sorted(root.glob("train-*-s*")):
        match = re.fullmatch(r"train-(\d+|all)-s(\d+)", folder.name)
        if match and (folder / "eval_dev_docexp" / "report.json").is_file():  # both evals done
            found[match.group(1)].append(folder)
    return dict(sorted(found.items(), key=lambda item: float("inf") if item[0] == "all" else int(item[0])))


def versus(values: dict[str, float], reference: dict[str, float]) -> str:
    """``mean: difference [95% CI], p`` of ``values`` paired with ``reference`` over the queries."""
    return f"{mean(values):.4f}: {paired_difference(values, reference)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("runs/label_budget"))
    parser.add_argument("--data", default="../shared/data/nfcorpus", help="the dataset whose dev qrels score")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--train-queries", type=int, default=2590, help="K of `all`, for the figure's axis")
    parser.add_argument("--output", type=Path, required=True, help="writes OUTPUT.md and OUTPUT.png")
    args = parser.parse_args()
    qrels = load_dataset(args.data, args.split).qrels
    found = budgets(args.root)
    lines = [
        f"# Label budget: K labelled train queries, {args.data} {args.split} nDCG@10 (`eval/run_label_budget.sh`, "
        "then `python eval/label_budget_table.py`)",
        "",
        "Each K is a seeded draw of the train queries (one per seed); scores are per-query means over the seeds; "
        "intervals are paired over queries (95% bootstrap). docexp = the index expanded with the same K queries.",
    ]
    curves: dict[str, dict[str, list[float]]] = {r: defaultdict(list) for r in RETRIEVERS}
    for retriever in RETRIEVERS:
        lines += [
            "",
            f"**{retriever}**",
            "",
            "| K | seeds | base | base + docexp - base | fine-tuned - base | fine-tuned + docexp - base "
            "| fine-tuned + docexp - base + docexp |",
            "|---|---|---|---|---|---|---|",
        ]
        for budget, folders in found.items():
            scores = {
                system: seed_mean(
                    qrels,
                    [str(f / folder / pattern.format(r=retriever) / "run.trec") for f in folders],
                    "nDCG@10",
                    args.split,
                )
                for system, (folder, pattern) in SYSTEMS.items()
            }
            for system, values in scores.items():
                curves[retriever][system].append(mean(values))
            base, expanded, tuned = scores["base"], scores["base + docexp"], scores["fine-tuned + docexp"]
            lines.append(
                f"| {budget} | {len(folders)} | {mean(base):.4f} | {versus(expanded, base)} "
                f"| {versus(scores['fine-tuned'], base)} | {versus(tuned, base)} | {versus(tuned, expanded)} |"
            )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    draw(
        [args.train_queries if b == "all" else int(b) for b in found], curves, args.output.with_suffix(".png")
    )


def draw(ks: list[int], curves: dict[str, dict[str, list[float]]], path: Path) -> None:
    """nDCG@10 against K (log axis), one panel per retriever, one line per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.6), sharey=True)
    for axis, (retriever, systems) in zip(axes, curves.items(), strict=True):
        for system, values in systems.items():
            axis.plot(ks, values, marker="o", label=system, linestyle="--" if system == "base" else "-")
        axis.set_xscale("log")
        axis.set_xticks(ks, [str(k) for k in ks])
        axis.set_xlabel("labelled train queries (K)")
        axis.set_title(retriever)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("dev nDCG@10")
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    print(f"figure: {path}")


if __name__ == "__main__":
    main()
