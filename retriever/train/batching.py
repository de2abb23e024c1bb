"""Query groups and the per-epoch batch plan, identical on every process (Tevatron-style seeding).

Everything random is drawn from ``numpy.random.default_rng([seed, epoch, ...])``, so a plan depends only on
(examples, settings, seed, epoch): every process computes the same global batches without communication, and
a resumed run replays exactly the batches it would have seen.

- A query's **group** for an epoch: its active positives (``first``: the first positive; ``draw_one``: one
  positive drawn from (seed, epoch, query index), Rand1LH; ``all``: every positive, or ``max_positives`` of
  them when it has more: a seeded sample per epoch (``positive_cap="sample"``) or the first ones in file
  order (``"first"``, the paper's reference code; Rand1LH then draws among those); a positive is never
  repeated to fill a slot) and up to
  ``n_negatives`` hard negatives (a seeded sample when it has more). ``known_positive_ids`` lists every
  positive of the query, so in-batch passages it is known to like are never used as its negatives.
- A **global batch** holds ``batch_size`` queries, no query twice and no passage twice. Queries are taken in
  a seeded shuffled order; a query whose passages collide with the batch being filled is deferred to the front
  of the next batch. Each batch scans the remaining queries at most once, so planning is deterministic and
  bounded (O(queries x batches) in the worst case, about O(queries) when collisions are rare).
- Process ``rank`` of ``world_size`` takes the contiguous slice ``rank`` of each global batch. A short batch
  keeps a multiple of ``world_size`` queries (the rest move to the next batch; fewer than ``world_size``
  leftover queries skip the epoch), so every process runs the same number of equal-sized steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from retriever.data.training_file import Negative, Positive, TrainingExample
from retriever.errors import InputError

PositiveMode = Literal["first", "draw_one", "all"]
PositiveCap = Literal["sample", "first"]

_ORDER, _GROUP, _DEV = 0, 1, 2  # stream tags keep the seeded draws independent


@dataclass(frozen=True)
class QueryGroup:
    """One query's passages for one epoch (``positives`` are the active ones)."""

    index: int
    query_id: str
    query: str
    positives: tuple[Positive, ...]
    negatives: tuple[Negative, ...]
    known_positive_ids: tuple[str, ...]

    @property
    def passage_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.positives) + tuple(n.id for n in self.negatives)


def filter_sources(
    examples: Sequence[TrainingExample], sources: Sequence[str] | None
) -> tuple[list[TrainingExample], int]:
    """Keep positives whose ``source`` is in ``sources`` (None keeps all); drop queries left without one.

    Returns ``(kept examples, number of dropped queries)``; no query left at all is an :class:`InputError`.
    """
    if sources is None:
        return list(examples), 0
    wanted = set(sources)
    kept = []
    for example in examples:
        positives = [p for p in example.positives if p.source in wanted]
        if positives:
            kept.append(example.model_copy(update={"positives": positives}))
    if not kept:
        found = sorted({p.source for e in examples for p in e.positives})
        raise InputError(
            f"no query has a positive with source in {sorted(wanted)} (sources present: {found})",
            field="positive_sources",
        )
    return kept, len(examples) - len(kept)


def split_dev(
    examples: Sequence[TrainingExample], fraction: float, seed: int
) -> tuple[list[TrainingExample], list[TrainingExample]]:
    """``(train, dev)``: ``round(fraction * n)`` queries drawn from ``seed`` go to dev, file order kept."""
    count = round(fraction * len(examples))
    if count == 0:
        return list(examples), []
    if count >= len(examples):
        raise InputError(f"dev_fraction {fraction} leaves no training query", field="dev.dev_fraction")
    chosen = set(
        np.random.default_rng([seed, _DEV]).choice(len(examples), size=count, replace=False).tolist()
    )
    train = [e for i, e in enumerate(examples) if i not in chosen]
    dev = [e for i, e in enumerate(examples) if i in chosen]
    return train, dev


def _unique_by_id(items):
    seen: set[str] = set()
    return [item for item in items if not (item.id in seen or seen.add(item.id))]


class BatchPlan:
    """Groups and global batches per epoch; see the module docstring for the contract."""

    def __init__(
        self,
        examples: Sequence[TrainingExample],
        *,
        batch_size: int,
        seed: int,
        positive_mode: PositiveMode = "all",
        max_positives: int = 4,
        hard_negatives: int = 4,
        group_size: int | None = None,
        known_positives: dict[str, Sequence[str]] | None = None,
        positive_cap: PositiveCap = "sample",
    ) -> None:
        """``known_positives`` (query id -> doc ids) adds positives that are masked but not trained on, e.g.
        the ones removed by a source filter; each query's own positives are always known."""
        if batch_size < 1 or max_positives < 1 or hard_negatives < 0:
            raise ValueError("batch_size and max_positives must be >= 1, hard_negatives >= 0")
        self.examples = list(examples)
        self.batch_size = batch_size
        self.seed = seed
        self.positive_mode = positive_mode
        self.max_positives = max_positives
        self.hard_negatives = hard_negatives
        self.group_size = group_size
        self.positive_cap = positive_cap
        self._positives = [_unique_by_id(e.positives) for e in self.examples]
        self._negatives = [_unique_by_id(e.negatives) for e in self.examples]
        extra = known_positives or {}
        self._known = [
            tuple(dict.fromkeys([p.id for p in positives] + list(extra.get(e.query_id, ()))))
            for e, positives in zip(self.examples, self._positives, strict=True)
        ]

    def __len__(self) -> int:
        return len(self.examples)

    def group(self, index: int, epoch: int) -> QueryGroup:
        """The group of query ``index`` in ``epoch``: a pure function of (seed, epoch, index)."""
        rng = np.random.default_rng([self.seed, epoch, _GROUP, index])
        positives = self._positives[index]
        if self.positive_cap == "first":
            positives = positives[: self.max_positives]
        if self.positive_mode == "first":
            active = positives[:1]
        elif self.positive_mode == "draw_one":
            active = [positives[int(rng.integers(len(positives)))]]
        elif len(positives) > self.max_positives:
            keep = np.sort(rng.choice(len(positives), size=self.max_positives, replace=False))
            active = [positives[i] for i in keep]
        else:
            active = positives
        wanted = self.hard_negatives if self.group_size is None else self.group_size - len(active)
        negatives = self._negatives[index]
        if len(negatives) > wanted:
            keep = np.sort(rng.choice(len(negatives), size=wanted, replace=False))
            negatives = [negatives[i] for i in keep]
        example = self.examples[index]
        return QueryGroup(
            index, example.query_id, example.query, tuple(active), tuple(negatives), self._known[index]
        )

    def global_batches(self, epoch: int, world_size: int = 1) -> list[list[QueryGroup]]:
        """The epoch's batches of groups: no query or passage twice in a batch (see the module docstring)."""
        if self.batch_size % world_size:
            raise InputError(
                f"batch_size {self.batch_size} is not a multiple of the {world_size} processes",
                field="batch_size",
            )
        order = np.random.default_rng([self.seed, epoch, _ORDER]).permutation(len(self.examples)).tolist()
        groups = {i: self.group(i, epoch) for i in order}
        pending = order
        batches: list[list[QueryGroup]] = []
        while pending:
            batch, deferred, position = self._fill(groups, pending)
            usable = len(batch) - len(batch) % world_size
            # A short batch keeps a multiple of world_size; the rest go back in front (or are dropped for
            # this epoch when fewer than world_size queries are compatible, so the plan always advances).
            returned = [group.index for group in batch[usable:]] if usable else []
            pending = returned + deferred + pending[position:]
            if usable:
                batches.append(batch[:usable])
        return batches

    def _fill(
        self, groups: dict[int, QueryGroup], pending: list[int]
    ) -> tuple[list[QueryGroup], list[int], int]:
        """Fill one batch scanning ``pending`` once: ``(batch, deferred indices, scan position)``."""
        batch: list[QueryGroup] = []
        query_ids: set[str] = set()
        passage_ids: set[str] = set()
        deferred: list[int] = []
        position = 0
        while position < len(pending) and len(batch) < self.batch_size:
            group = groups[pending[position]]
            position += 1
            ids = group.passage_ids
            if group.query_id in query_ids or not passage_ids.isdisjoint(ids):
                deferred.append(group.index)
                continue
            batch.append(group)
            query_ids.add(group.query_id)
            passage_ids.update(ids)
        return batch, deferred, position

    def local_batches(self, epoch: int, rank: int = 0, world_size: int = 1) -> list[list[QueryGroup]]:
        """This process's contiguous slice of each global batch of ``epoch`` (equal sizes on every rank)."""
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world size {world_size}")
        local = []
        for batch in self.global_batches(epoch, world_size):
            size = len(batch) // world_size
            local.append(batch[rank * size : (rank + 1) * size])
        return local
