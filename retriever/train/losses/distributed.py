"""All-gather of the batch's passages across processes, with gradients.

Only passages (embeddings and ids) are gathered: each process scores its LOCAL queries against the global
passages, so the query rows, their positive ids and their known positive ids stay local. The embeddings go
through ``torch.distributed.nn.functional.all_gather``, whose backward sums every process's gradient into
the owner of each passage; with data-parallel averaging of the per-process mean losses this gives the
gradient of the mean loss over the global batch.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.functional import pad

from retriever.train.labels import PAD_ID


def gather_passages(passages: Tensor, passage_ids: Tensor) -> tuple[Tensor, Tensor]:
    """``(passages [ΣN_r, D], ids [ΣN_r])`` of all processes in rank order (local without a process group).

    Processes may hold different numbers of passages: each pads to the largest count (zero rows, id
    :data:`PAD_ID`) for the collective, and the padding is dropped from the result.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return passages, passage_ids
    from torch.distributed.nn.functional import all_gather

    world_size = dist.get_world_size()
    count = torch.tensor([passages.size(0)], device=passages.device)
    counts = [torch.zeros_like(count) for _ in range(world_size)]
    dist.all_gather(counts, count)
    missing = int(torch.cat(counts).max()) - passages.size(0)
    padded = pad(passages, (0, 0, 0, missing)).contiguous()
    padded_ids = pad(passage_ids.to(passages.device), (0, missing), value=PAD_ID).contiguous()
    gathered_ids = [torch.empty_like(padded_ids) for _ in range(world_size)]
    dist.all_gather(gathered_ids, padded_ids)
    ids = torch.cat(gathered_ids)
    keep = ids != PAD_ID
    return torch.cat(all_gather(padded))[keep], ids[keep]
