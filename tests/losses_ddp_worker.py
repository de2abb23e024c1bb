"""Worker of ``tests/test_losses_distributed.py``, run as
``torchrun --standalone --nproc_per_node 2 tests/losses_ddp_worker.py MODEL_DIR OUT_FILE``.

Each of the 2 processes (gloo, CPU) takes half of :data:`GROUPS`, builds its own deduplicated passages
(so some passages sit on both processes, and some of a query's known positives only on the other one),
computes every registered loss with ``gather_across_devices=True``, and averages loss and parameter
gradients over processes, as data-parallel training does. Rank 0 saves ``{name: {"loss", "grad_norm",
"grads"}}`` to OUT_FILE.
"""

from __future__ import annotations

import sys

# (query, active positives, known positives, hard negatives); passages texts in TEXTS.
GROUPS = [
    ("protein cell gene", ["p1", "p2"], ["p1", "p2", "n2"], ["n1", "p5"]),
    ("cancer patients study", ["p3", "p4"], ["p3", "p4"], ["n2"]),
    ("paris france capital", ["p5"], ["p5", "p1"], ["n1", "n3"]),
    ("river mountain city", ["p6", "p7"], ["p6", "p7"], ["n3"]),
]
TEXTS = {
    "p1": "protein expression in the cell",
    "p2": "gene expression increase",
    "p3": "cancer treatment trial patients",
    "p4": "tumor risk study in patients",
    "p5": "paris is the capital of france",
    "p6": "the river in the city",
    "p7": "mountain population water",
    "n1": "berlin germany",
    "n2": "virus vaccine infection response",
    "n3": "brain heart lung liver kidney",
}


def make_batch(model, groups):
    """``(features, labels)`` of ``groups`` as the collator builds them (passages deduplicated by id)."""
    from retriever.train.labels import make_labels

    ids = list(dict.fromkeys(doc for _, active, _, negatives in groups for doc in (*active, *negatives)))
    features = [model.preprocess([g[0] for g in groups]), model.preprocess([TEXTS[i] for i in ids])]
    return features, make_labels(ids, [g[1] for g in groups], [g[2] for g in groups])


def loss_and_grads(loss, model, features, labels):
    """The loss and the flattened parameter gradients after one backward pass."""
    import torch

    model.zero_grad()
    value = loss(features, labels)
    value.backward()
    return value.detach(), torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def main(model_dir: str, out_file: str) -> None:
    import torch
    import torch.distributed as dist
    from sentence_transformers import SentenceTransformer

    from retriever.train.losses.registry import LOSS_NAMES, build_loss

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    model = SentenceTransformer(model_dir, device="cpu")
    model.eval()
    per_rank = len(GROUPS) // world
    features, labels = make_batch(model, GROUPS[rank * per_rank : (rank + 1) * per_rank])
    results = {}
    for name in LOSS_NAMES:
        hparams = {"mini_batch_size": 2} if name.startswith("cached_") else {}
        loss = build_loss(name, model, gather_across_devices=True, **hparams)
        value, grads = loss_and_grads(loss, model, features, labels)
        for tensor in (value, grads):
            dist.all_reduce(tensor)
            tensor /= world
        results[name] = {"loss": value.item(), "grad_norm": grads.norm().item(), "grads": grads}
    if rank == 0:
        torch.save(results, out_file)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:3])
