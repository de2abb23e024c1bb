"""Does the positive-source filter undo the noise benchmark's false positives exactly?

``eval/bench_train.py --noise-source random`` adds false positives (source ``noise``) and leaves the negatives
as they were, so training with ``positive_sources: [qrels]`` on the noisy file should see the very batches of the
clean file. This builds both training plans (the 80-step NFCorpus benchmark's settings, SumMargLH) and compares
every batch of the first epoch: query ids and passage ids in order. Prints whether they are identical; when
they are, the filter's row of the noise table is the clean row, and no model needs training for it.

    python eval/check_source_filter.py [--rate 0.5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_train  # noqa: E402

from retriever.train.trainer import prepare_data  # noqa: E402

BENCHMARK = (  # eval/run_nfcorpus_queue.sh's COMMON settings and learning rate
    "--data ../shared/data/nfcorpus --dev-split dev --max-steps 80 --batch-size 16 --max-seq-length 128 "
    "--max-positives 4 --hard-negatives 4 --negatives 30 --skip-top 0 --lrs 5e-5"
).split()


def epoch_batches(args: argparse.Namespace, data: Path) -> list[list[tuple]]:
    """Epoch 0 of the training plan: each batch as (query id, passage ids) per group."""
    plan = prepare_data(bench_train.train_config(args, data, "summarglh", 5e-5, Path("unused"))).plan
    return [
        [(group.query_id, tuple(group.passage_ids)) for group in batch] for batch in plan.global_batches(0)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=0.5, help="Noise rate of the noisy file.")
    rate = parser.parse_args().rate
    sys.argv = ["bench_train.py", *BENCHMARK]
    args = bench_train.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    clean = bench_train.training_file(args, work)
    args.noise_rate, args.noise_source = rate, "random"
    noisy = bench_train.training_file(args, work)
    args.source_aware = "filter"
    filtered = epoch_batches(args, noisy)
    args.noise_rate, args.source_aware = 0.0, "none"
    plain = epoch_batches(args, clean)
    same = filtered == plain
    print(
        f"{noisy.name} filtered to qrels vs {clean.name}: {len(filtered)} batches in epoch 0, identical: {same}"
    )


if __name__ == "__main__":
    main()
