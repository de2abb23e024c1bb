"""What bf16 encoding changes for evaluation, mining and indexing: corpus-encoding time and test metrics of
``encoder.precision: bf16`` against the fp32 default, for one model on one dataset, in one process.

Each precision is run ``--rounds`` times in ABBA order (fp32, bf16, bf16, fp32, ...; ``--once``: fp32 then bf16)
through the eval runner
with the embedding cache off, so both encode the whole corpus every time; the table gives the median
``encode_corpus`` seconds, their ratio, each precision's nDCG@10 / Recall@100 (identical across rounds: the
encoding is deterministic) and the paired per-query nDCG@10 difference bf16 - fp32.

    HF_HUB_OFFLINE=1 .venv/bin/python eval/bench_encode_precision.py > eval/output/encode_precision.txt
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "scifact"))
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--max-seq-length", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=1, help="ABBA rounds.")
    parser.add_argument("--once", action="store_true", help="Run fp32 then bf16 once (no ABBA).")
    args = parser.parse_args()

    from retriever.data.loader import load_dataset
    from retriever.eval.config import EvalConfig
    from retriever.eval.runner import evaluate_systems
    from retriever.eval.significance import paired_difference

    dataset = load_dataset(args.data, "test")
    seconds: dict[str, list[float]] = {"fp32": [], "bf16": []}
    systems = {}
    order = ["fp32", "bf16"] if args.once else ["fp32", "bf16", "bf16", "fp32"] * args.rounds
    for precision in order:
        encoder = {"max_seq_length": args.max_seq_length, "precision": precision}
        config = EvalConfig(data=args.data, models=[args.model], cache=False, encoder=encoder)
        (system,) = evaluate_systems(config, dataset, config.models, source=config.data).systems
        seconds[precision].append(system.timings["encode_corpus"])
        systems[precision] = system
        print(f"{precision}: encode_corpus {seconds[precision][-1]:.1f} s", flush=True)
    fp32, bf16 = (statistics.median(seconds[p]) for p in ("fp32", "bf16"))
    print(
        f"\n{args.model} on {Path(args.data).name} test ({len(dataset.corpus)} documents, "
        f"max_seq_length {args.max_seq_length}), "
        + ("fp32 then bf16 once" if args.once else f"{args.rounds} ABBA round(s)")
    )
    print("| precision | median encode_corpus s | nDCG@10 | Recall@100 |")
    print("|---|---|---|---|")
    for name, values in seconds.items():
        metrics = systems[name].metrics
        print(
            f"| {name} | {statistics.median(values):.1f} | {metrics['nDCG@10']:.4f} | "
            f"{metrics['Recall@100']:.4f} |"
        )
    per_query = {
        name: {q: v["nDCG@10"] for q, v in system.per_query.items()} for name, system in systems.items()
    }
    print(f"\nencoding time ratio bf16 / fp32: {bf16 / fp32:.3f}")
    print(
        f"nDCG@10 bf16 - fp32 (paired over queries): {paired_difference(per_query['bf16'], per_query['fp32'])}"
    )


if __name__ == "__main__":
    main()
