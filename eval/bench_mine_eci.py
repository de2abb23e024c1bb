"""Does ECI rank hard-negative strategies the way downstream retrieval quality does?

Mines one dataset once with ``--strategy auto`` (every strategy's negatives are written to
``mined/strategies/<name>.jsonl`` with the same positives), trains the same recipe on each strategy's file,
evaluates every trained model (and the untrained base model) on the evaluation split, and reports nDCG@10
next to each strategy's ECI (as mined and after the false-negative filters) with the Spearman rank
correlation between ECI and nDCG@10 across strategies.

Full run (the lead's; hours on CPU, minutes on a GPU)::

    .venv/bin/python eval/bench_mine_eci.py --data ../shared/data/scifact --bi-encoder all-MiniLM-L6-v2 \\
        --base-model all-MiniLM-L6-v2 --epochs 1 --out eval/output/bench_mine_eci

Outputs: ``<out>/bench_mine_eci.json`` and ``<out>/bench_mine_eci.md`` (the table), plus the mined data and
the trained models under ``<out>``. Everything is resumable: mining reuses its checkpoints, a strategy whose
model and report exist is not trained or evaluated again.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retriever.mine.command import OPTIONS  # noqa: E402


def _args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="dataset (train split mined, eval split evaluated)")
    parser.add_argument("--split", default="train", help="split mined and trained on")
    parser.add_argument("--eval-split", default="test", help="split the trained models are evaluated on")
    parser.add_argument("--bi-encoder", required=True, help="bi-encoder of dense candidates (and teacher)")
    parser.add_argument("--teacher", default=None, help="cross-encoder teacher (default: bi-encoder cosine)")
    parser.add_argument("--depth", type=int, default=100, help="candidates per source and query")
    parser.add_argument(
        "--negatives", type=int, default=3, help="hard negatives mined (and trained) per query"
    )
    parser.add_argument("--max-queries", type=int, default=None, help="mine only the first N queries")
    parser.add_argument("--base-model", required=True, help="model fine-tuned on each strategy's file")
    parser.add_argument("--loss", default="lsepair", help="training objective")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=None, help="step cap per model (smoke runs)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--max-seq-length", type=int, default=128, help="token limit in training")
    parser.add_argument(
        "--eval-max-seq-length", type=int, default=256, help="token limit of every evaluation (base included)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=Path("eval/output/bench_mine_eci"))
    return parser.parse_args(argv)


def _mine(args: argparse.Namespace) -> dict[str, Any]:
    from retriever.mine.pipeline import mine

    options = {
        "data": args.data,
        "split": args.split,
        "candidates": ["bm25", "dense"],
        "depth": args.depth,
        "bi_encoder": args.bi_encoder,
        "teacher": args.teacher,
        "negatives": args.negatives,
        "max_queries": args.max_queries,
        "strategy": "auto",
    }
    return mine(OPTIONS.build(options, config=None, overrides=[]), args.out / "mined")


def _train(args: argparse.Namespace, strategy: str) -> Path:
    from retriever.train.config import TrainConfig
    from retriever.train.trainer import train

    output = args.out / "models" / strategy
    config = TrainConfig(
        model=args.base_model,
        data=args.out / "mined" / "strategies" / f"{strategy}.jsonl",
        output=output,
        loss=args.loss,
        epochs=args.epochs,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        lr=args.lr,
        hard_negatives=args.negatives,
        max_seq_length=args.max_seq_length,
        seed=args.seed,
    )
    return train(config, resume=True)  # a finished model is kept, an interrupted one continues


def _ndcg(args: argparse.Namespace, model: str, name: str) -> float:
    from retriever.eval.config import EvalConfig
    from retriever.eval.runner import evaluate

    report_dir = args.out / "reports" / name
    saved = report_dir / "ndcg.json"
    if saved.is_file():
        return json.loads(saved.read_text())["nDCG@10"]
    config = EvalConfig(
        data=args.data,
        split=args.eval_split,
        models=[model],
        retrievers=["dense"],
        metrics=["nDCG@10"],
        k=100,
        encoder={"max_seq_length": args.eval_max_seq_length},
        output=str(report_dir),
    )
    (system,) = evaluate(config).systems
    value = float(system.metrics["nDCG@10"])
    saved.write_text(json.dumps({"nDCG@10": value}))
    return value


def _per_query_ndcg(args: argparse.Namespace, qrels, name: str) -> dict[str, float]:
    """Per-query nDCG@10 of a strategy's model, from the run file its evaluation wrote."""
    from retriever.eval.metrics import evaluate_run, read_trec_run

    (run_file,) = (args.out / "reports" / name).glob("*.trec")
    per_query = evaluate_run(qrels, read_trec_run(run_file), ["nDCG@10"]).per_query
    return {query: values["nDCG@10"] for query, values in per_query.items()}


def _against_chosen(args: argparse.Namespace, rows: list[dict[str, Any]], chosen: str) -> None:
    """Adds to each row its paired nDCG@10 difference from the strategy ECI chose (interval and p)."""
    from retriever.data.loader import load_dataset
    from retriever.eval.significance import paired_difference

    qrels = load_dataset(args.data, args.eval_split).qrels
    per_query = {row["strategy"]: _per_query_ndcg(args, qrels, row["strategy"]) for row in rows}
    for row in rows:
        if row["strategy"] != chosen:
            row["vs_chosen"] = paired_difference(per_query[row["strategy"]], per_query[chosen]).as_dict()


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman's rank correlation (ties averaged); None when undefined (fewer than 3 points or a constant)."""
    from scipy.stats import spearmanr

    if len(xs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    return float(spearmanr(xs, ys).statistic)


def _delta(row: dict[str, Any]) -> str:
    from retriever.eval.significance import PairedDifference

    return str(PairedDifference(**row["vs_chosen"])) if "vs_chosen" in row else ""


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = _mine(args)
    rows = []
    base = _ndcg(args, args.base_model, "base")
    for strategy, entry in manifest["eci"].items():
        model = _train(args, strategy)
        rows.append(
            {
                "strategy": strategy,
                "K": entry["as_mined"]["k"],
                "H": entry["as_mined"]["hardness"],
                "S": entry["as_mined"]["safety"],
                "ECI": entry["as_mined"]["eci"],
                "ECI_filtered": entry["filtered"]["eci"],
                "unsafe_dropped": entry["unsafe_dropped"],
                "nDCG@10": _ndcg(args, str(model), strategy),
            }
        )
    _against_chosen(args, rows, manifest["strategy"])
    result = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "chosen_by_eci": manifest["strategy"],
        "base_model_nDCG@10": base,
        "rows": rows,
        "spearman_eci_ndcg": spearman([r["ECI"] for r in rows], [r["nDCG@10"] for r in rows]),
        "spearman_filtered_eci_ndcg": spearman(
            [r["ECI_filtered"] for r in rows], [r["nDCG@10"] for r in rows]
        ),
    }
    (args.out / "bench_mine_eci.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"base model nDCG@10 = {base:.4f}; ECI chose `{manifest['strategy']}`",
        "",
        "| strategy | K | H | S | ECI | ECI (filtered) | unsafe dropped | nDCG@10 | nDCG@10 - chosen [95% CI], p |",
        "|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {r['strategy']} | {r['K']:.2f} | {r['H']:.3f} | {r['S']:.3f} | {r['ECI']:.3f} | "
            f"{r['ECI_filtered']:.3f} | {r['unsafe_dropped']} | {r['nDCG@10']:.4f} | {_delta(r)} |"
            for r in rows
        ),
        "",
        f"Spearman(ECI, nDCG@10) = {result['spearman_eci_ndcg']}; "
        f"Spearman(filtered ECI, nDCG@10) = {result['spearman_filtered_eci_ndcg']}",
    ]
    (args.out / "bench_mine_eci.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
