"""Training step time of ``retriever train``'s defaults against fp32 at equal batch, on this CPU.

Each setting (``SETTINGS``) runs the real trainer (:func:`retriever.train.trainer.train`: collation, forward,
loss, backward, clipping, optimizer) on the same SciFact training file, batch and seed: fp32 (the model's SDPA
attention and dropout), bf16 autocast with SDPA attention, the defaults (``precision: auto``, ``attention:
auto``: bf16 with eager attention here), the defaults without attention dropout (``attention_dropout: 0``),
and fp32 without it, in ABBA order (A B C ... C B A, ...) so a slow phase of a shared machine hits all alike.
The step time is read from each step's log record (``batch_size / examples_per_s``); the first ``--warmup``
steps of a run (allocator and oneDNN kernel warm-up) are left out, and model loading never counts. The table
gives the median step time per setting and its ratio to fp32 (target <= 0.5), plus what ``auto`` resolves to
here.

    HF_HUB_OFFLINE=1 .venv/bin/python eval/bench_train_speed.py --rounds 1 --steps 6 > eval/output/train_speed.txt
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]


# name -> TrainConfig fields
SETTINGS = {
    "fp32": {"precision": "fp32"},
    "bf16, sdpa": {"precision": "bf16", "attention": "sdpa"},
    "defaults": {},
    "defaults, no attention dropout": {"attention_dropout": 0.0},
    "fp32, no attention dropout": {"precision": "fp32", "attention_dropout": 0.0},
    "defaults, no dropout": {"attention_dropout": 0.0, "hidden_dropout": 0.0},
    "bf16, sdpa, no dropout": {
        "precision": "bf16",
        "attention": "sdpa",
        "attention_dropout": 0.0,
        "hidden_dropout": 0.0,
    },
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "scifact"))
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--batch-size", type=int, default=16, help="Queries per step.")
    parser.add_argument("--max-positives", type=int, default=4)
    parser.add_argument("--hard-negatives", type=int, default=4)
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5, help="Steps per run (warm-up included).")
    parser.add_argument("--warmup", type=int, default=1, help="Leading steps of each run left out.")
    parser.add_argument(
        "--rounds", type=int, default=2, help="ABBA rounds (each runs both precisions twice)."
    )
    parser.add_argument("--loss", default="lsepair")
    parser.add_argument(
        "--settings",
        nargs="+",
        choices=list(SETTINGS),
        default=list(SETTINGS),
        help="Which settings to time; the ratios are to fp32 when it is among them, else to the first.",
    )
    return parser.parse_args()


def training_file(args: argparse.Namespace, work: Path) -> Path:
    from retriever.mine.config import ConvertConfig
    from retriever.mine.convert import convert

    path = work / "train.jsonl"
    convert(ConvertConfig(data=args.data, output=path, negatives=args.hard_negatives))
    return path


def step_times(args: argparse.Namespace, data: Path, setting: str, output: Path) -> list[float]:
    """Seconds of each step after the warm-up, from the trainer's own log records."""
    from retriever.train.config import TrainConfig
    from retriever.train.trainer import read_log, train

    config = TrainConfig(
        model=args.model,
        data=data,
        output=output,
        loss=args.loss,
        max_steps=args.steps,
        batch_size=args.batch_size,
        max_positives=args.max_positives,
        hard_negatives=args.hard_negatives,
        max_seq_length=args.max_seq_length,
        save_steps=10_000,
        **SETTINGS[setting],
    )
    train(config)
    records = [r for r in read_log(output) if "loss" in r][args.warmup :]
    return [args.batch_size / r["examples_per_s"] for r in records]


def main() -> None:
    args = parse_args()
    import torch

    from retriever.train.precision import resolve_attention, resolve_precision

    times: dict[str, list[float]] = {name: [] for name in args.settings}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = training_file(args, work)
        order = [*args.settings, *reversed(args.settings)] * args.rounds
        for run, setting in enumerate(order):
            times[setting] += step_times(args, data, setting, work / f"run{run}")
            print(f"run {run} {setting}: {times[setting][-1]:.2f} s/step (last)", flush=True)
    reference = "fp32" if "fp32" in times else args.settings[0]
    reference_median = statistics.median(times[reference])
    auto = resolve_precision("auto")
    print(
        f"\nTrainer step time, {args.loss}, {args.batch_size} queries x ({args.max_positives} positives + "
        f"{args.hard_negatives} BM25 negatives), max_seq_length {args.max_seq_length}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(
        f"defaults resolve to: precision {auto}, "
        f"attention {resolve_attention('auto', auto, torch.cuda.is_available(), args.max_seq_length) or 'the model default'}"
    )
    print(f"| setting | steps timed | median s/step | min | max | / {reference} (speed-up) |")
    print("|---|---|---|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"| {name} | {len(values)} | {median:.3f} | {min(values):.3f} | {max(values):.3f} | "
            f"{median / reference_median:.3f} ({reference_median / median:.2f}x) |"
        )


if __name__ == "__main__":
    main()
