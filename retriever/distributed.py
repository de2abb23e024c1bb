"""``torchrun`` for the encoding stages of ``retriever eval``, ``index`` and ``mine``.

Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) :func:`world` initialises the default process group
once, from the variables torchrun sets: NCCL when CUDA is available, gloo otherwise. Elsewhere the process is
rank 0 of 1 and :func:`barrier` does nothing. A sharded command runs the same way on every rank: each rank
encodes its share of the corpus shards into the shared embedding cache
(:meth:`~retriever.retrieval.embedding_cache.EmbeddingCache.corpus_embeddings`), then every rank except 0
stops and rank 0 does the rest (index, search, metrics, files) from the finished cache, so the outputs are
those of one process. The cache directory must be one filesystem every rank sees (one machine, or a shared
mount across nodes). Training sets up its processes through accelerate, which reads the same variables.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from retriever.errors import InputError

if TYPE_CHECKING:
    from retriever.data.dataset import Corpus
    from retriever.retrieval.embedding_cache import EmbeddingCache
    from retriever.retrieval.encoder import Encoder


def world() -> tuple[int, int]:
    """``(rank, world size)`` of this process; joins torchrun's process group on first use."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return 0, 1
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if world()[1] > 1:
        import torch.distributed as dist

        dist.barrier()


def encode_then_release_workers(
    corpus: Callable[[], Corpus], encoders: Iterable[Callable[[], Encoder]], cache: EmbeddingCache | None
) -> bool:
    """Under torchrun, every rank encodes its shards of ``corpus()`` for each encoder (in order: every rank
    must pass the same list) into ``cache``; returns True on ranks other than 0, which have nothing left to
    do. A single process returns False at once, loading nothing, and encodes later, where the command needs
    the vectors (so rank 0 loads the corpus twice under torchrun: once here, once in the command)."""
    rank, size = world()
    if size == 1:
        return False
    if cache is None:
        raise InputError("sharded encoding under torchrun goes through the embedding cache: turn cache on")
    loaded = corpus()
    for encoder in encoders:
        cache.corpus_embeddings(encoder(), loaded)
    return rank > 0
