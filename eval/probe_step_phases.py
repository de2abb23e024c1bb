"""Where bf16 autocast saves time in a MiniLM training step on this CPU: forward, backward and optimizer apart.

One step is the trainer's shape (16 queries and 128 passages, 128 tokens, every text padded to the limit so both
precisions see the same tensors): the two forwards under ``torch.autocast("cpu", bfloat16)`` or in fp32, a
scaled-cosine cross-entropy in fp32, ``backward``, gradient clipping and AdamW (foreach, as in the trainer, and
fused). Each setting runs ``--steps`` steps, the first left out; the table gives median seconds per phase and
the bf16 / fp32 ratio of each. It explains ``eval/bench_train_speed.py``'s step ratio, it does not replace it.

    HF_HUB_OFFLINE=1 .venv/bin/python eval/probe_step_phases.py > eval/output/step_phases.txt
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

PHASES = ("forward", "backward", "optimizer")


def one_setting(model, features: tuple[dict, dict], precision: str, optimizer_kind: str, steps: int) -> dict:
    """Median seconds per phase over ``steps - 1`` steps (the first is warm-up)."""
    options = {"fused": True} if optimizer_kind == "fused" else {"foreach": True}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, **options)
    queries, passages = features
    per_group = passages["input_ids"].shape[0] // queries["input_ids"].shape[0]
    labels = torch.arange(queries["input_ids"].shape[0]) * per_group
    times: dict[str, list[float]] = {phase: [] for phase in PHASES}
    for step in range(steps):
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            q = model(dict(queries))["sentence_embedding"]
            p = model(dict(passages))["sentence_embedding"]
        scores = (
            20
            * torch.nn.functional.normalize(q.float(), dim=-1)
            @ torch.nn.functional.normalize(p.float(), dim=-1).T
        )
        loss = torch.nn.functional.cross_entropy(scores, labels)
        forward_done = time.perf_counter()
        loss.backward()
        backward_done = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step:
            times["forward"].append(forward_done - started)
            times["backward"].append(backward_done - forward_done)
            times["optimizer"].append(time.perf_counter() - backward_done)
    return {phase: statistics.median(values) for phase, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    from retriever.retrieval.models import load_bi_encoder

    torch.manual_seed(0)
    model = load_bi_encoder(args.model, device="cpu")
    model.max_seq_length = 128
    passage = "vitamin d deficiency is associated with an increased risk of several cancers " * 12
    features = (
        model.preprocess(["does vitamin d lower the risk of cancer in adults"] * 16),
        model.preprocess([passage] * 128),
    )
    rows = {}
    for precision, optimizer_kind in (("fp32", "foreach"), ("bf16", "foreach"), ("bf16", "fused")):
        rows[precision, optimizer_kind] = one_setting(model, features, precision, optimizer_kind, args.steps)
    fp32 = rows["fp32", "foreach"]
    print(
        f"MiniLM step phases, 16 queries + 128 passages x 128 tokens, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; median of {args.steps - 1} steps\n"
    )
    print("| precision, AdamW | " + " | ".join(f"{p} s (/ fp32)" for p in PHASES) + " | step s (/ fp32) |")
    print("|---|" + "---|" * (len(PHASES) + 1))
    for (precision, optimizer_kind), row in rows.items():
        cells = [f"{row[p]:.3f} ({row[p] / fp32[p]:.2f})" for p in PHASES]
        total, total_fp32 = sum(row.values()), sum(fp32.values())
        print(
            f"| {precision}, {optimizer_kind} | "
            + " | ".join(cells)
            + f" | {total:.2f} ({total / total_fp32:.2f}) |"
        )


if __name__ == "__main__":
    main()
