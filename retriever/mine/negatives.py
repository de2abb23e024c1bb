"""Hard-negative selection from one strategy's ranking, with false-negative filters.

Contract (mirrors sentence-transformers' ``mine_hard_negatives``): the query's positives (qrels and LLM) and
any other excluded ids are removed from the ranking first; the window is ranks ``[range_min, range_max)``
(0-based) of what remains; a candidate is *unsafe* and dropped when, with ``t_p`` the weakest positive's
teacher score, ``t + absolute_margin > t_p`` or ``t > t_p - |t_p| * relative_margin``; from the safe ones
``count`` are taken, the best ranked (``top``) or a random sample (``random``) seeded by (seed, query id) so
every run and every process agrees, returned in ranking order. ``raw`` is the same selection with no filter
(what the strategy offers as mined; its ECI measures the strategy).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from retriever.mine.config import NegativesConfig


@dataclass(frozen=True)
class Candidate:
    """A ranked passage for one query with its first-stage and teacher scores."""

    id: str
    source: str
    retriever_score: float | None
    teacher_score: float


@dataclass(frozen=True)
class Selection:
    """Chosen negatives, the unfiltered selection (``raw``), and how many of ``raw`` the margins dropped
    (each replaced, when the window allows, by the next safe candidate)."""

    negatives: list[Candidate]
    raw: list[Candidate]
    unsafe_dropped: int


def is_unsafe(teacher: float, positive: float, config: NegativesConfig) -> bool:
    """True when a candidate scores too close to (or above) the weakest positive to trust it as negative."""
    if config.absolute_margin is not None and teacher + config.absolute_margin > positive:
        return True
    return config.relative_margin is not None and teacher > positive - abs(positive) * config.relative_margin


def _rng(seed: int, query_id: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}\x1f{query_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _take(window: list[Candidate], count: int, sampling: str, rng: random.Random) -> list[Candidate]:
    if sampling == "top" or len(window) <= count:
        return window[:count]
    keep = sorted(rng.sample(range(len(window)), count))
    return [window[i] for i in keep]


def select_negatives(
    query_id: str,
    ranking: Sequence[Candidate],
    positive_score: float,
    exclude: Collection[str],
    config: NegativesConfig,
) -> Selection:
    """Pick ``config.count`` negatives for ``query_id`` from ``ranking`` (best first); see the module doc."""
    seen: set[str] = set()
    remaining = []
    for candidate in ranking:
        if candidate.id in exclude or candidate.id in seen:
            continue
        seen.add(candidate.id)
        remaining.append(candidate)
    window = remaining[config.range_min : config.range_max]
    safe = [c for c in window if not is_unsafe(c.teacher_score, positive_score, config)]
    raw = _take(window, config.count, config.sampling, _rng(config.seed, query_id))
    return Selection(
        negatives=_take(safe, config.count, config.sampling, _rng(config.seed, query_id)),
        raw=raw,
        unsafe_dropped=sum(1 for c in raw if is_unsafe(c.teacher_score, positive_score, config)),
    )
