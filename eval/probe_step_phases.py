"""Where bf16 autocast saves time in a MiniLM training step on this CPU: forward, backward and optimizer apart.

One step is the trainer's shape (16 queries and 128 passages, 128 tokens, every text padded to the limit so all
settings see the same tensors), in training mode as in the trainer (dropout active): the two forwards under
``torch.autocast("cpu", bfloat16)`` or in fp32, a scaled-cosine cross-entropy in fp32, ``backward``, gradient
clipping and AdamW (foreach, as in the trainer). Settings: precision x attention kernel (transformers' ``sdpa``
or ``eager``) x attention dropout (the model's 0.1, or 0), in ``SETTINGS``; the settings take turns step by step
(one step of each, then the next round) so a slow phase of a shared machine hits all alike, and the first round
is left out. The table gives median seconds per phase over ``--steps`` rounds and each one's ratio to fp32. It
explains ``eval/bench_train_speed.py``'s step ratios, it does not replace them.

    HF_HUB_OFFLINE=1 .venv/bin/python eval/probe_step_phases.py > eval/output/step_phases.txt
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

PHASES = ("forward", "backward", "optimizer")
# name -> (precision, attention kernel, attention dropout rate)
SETTINGS = {
    "fp32, sdpa, dropout 0.1": ("fp32", "sdpa", 0.1),
    "bf16, sdpa, dropout 0.1": ("bf16", "sdpa", 0.1),
    "bf16, eager, dropout 0.1": ("bf16", "eager", 0.1),
    "bf16, eager, attention dropout 0": ("bf16", "eager", 0.0),
    "fp32, sdpa, attention dropout 0": ("fp32", "sdpa", 0.0),
}


def one_step(model, optimizer, features: tuple[dict, dict], setting: tuple[str, str, float]) -> dict:
    """Seconds of each phase of one training step under ``setting``."""
    from retriever.train.dropout import set_dropout
    from retriever.train.precision import use_attention

    precision, attention, attention_dropout = setting
    use_attention(model, attention)
    set_dropout(model, attention=attention_dropout, hidden=None)
    queries, passages = features
    per_group = passages["input_ids"].shape[0] // queries["input_ids"].shape[0]
    labels = torch.arange(queries["input_ids"].shape[0]) * per_group
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
    return {
        "forward": forward_done - started,
        "backward": backward_done - forward_done,
        "optimizer": time.perf_counter() - backward_done,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--steps", type=int, default=4, help="Timed rounds (after one warm-up round).")
    args = parser.parse_args()
    from retriever.retrieval.models import load_bi_encoder

    torch.manual_seed(0)
    model = load_bi_encoder(args.model, device="cpu").train()  # dropout active, as in the trainer
    model.max_seq_length = 128
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-7, foreach=True)  # tiny steps: weights ~fixed
    passage = "vitamin d deficiency is associated with an increased risk of several cancers " * 12
    features = (
        model.preprocess(["does vitamin d lower the risk of cancer in adults"] * 16),
        model.preprocess([passage] * 128),
    )
    times: dict[str, dict[str, list[float]]] = {name: {p: [] for p in PHASES} for name in SETTINGS}
    for round_ in range(args.steps + 1):
        for name, setting in SETTINGS.items():
            phases = one_step(model, optimizer, features, setting)
            if round_:
                for phase, seconds in phases.items():
                    times[name][phase].append(seconds)
    rows = {name: {p: statistics.median(v) for p, v in phases.items()} for name, phases in times.items()}
    fp32 = rows["fp32, sdpa, dropout 0.1"]
    print(
        f"MiniLM step phases in training mode, 16 queries + 128 passages x 128 tokens, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; median of {args.steps} rounds\n"
    )
    print("| setting | " + " | ".join(f"{p} s (/ fp32)" for p in PHASES) + " | step s (/ fp32) |")
    print("|---|" + "---|" * (len(PHASES) + 1))
    for name, row in rows.items():
        cells = [f"{row[p]:.3f} ({row[p] / fp32[p]:.2f})" for p in PHASES]
        total, total_fp32 = sum(row.values()), sum(fp32.values())
        print(f"| {name} | " + " | ".join(cells) + f" | {total:.2f} ({total / total_fp32:.2f}) |")


if __name__ == "__main__":
    main()
