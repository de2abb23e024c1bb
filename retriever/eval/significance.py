"""Paired comparison of two systems on the same queries: is a difference in a mean metric more than noise?

For per-query values a_q and b_q over the queries both systems were scored on, d_q = a_q - b_q and

- ``mean`` = (1/n) Σ_q d_q, the difference of the two means;
- ``low``/``high``: the 2.5th and 97.5th percentiles of the mean of d over ``samples`` bootstrap resamples of
  the queries (drawn with replacement), a 95% confidence interval;
- ``p``: the two-sided p-value of the paired randomization (sign-flip) test: the share of ``samples`` random
  sign vectors ε for which |(1/n) Σ_q ε_q d_q| >= |mean| (Smucker et al., CIKM 2007, recommend it for IR).

Both use one seeded generator, so a report is reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from retriever.errors import InputError


@dataclass(frozen=True)
class PairedDifference:
    """``mean`` difference (a - b), its 95% bootstrap interval ``[low, high]``, sign-flip ``p``, ``queries``."""

    mean: float
    low: float
    high: float
    p: float
    queries: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.mean:+.4f} [{self.low:+.4f}, {self.high:+.4f}], p={self.p:.2f}"


def paired_difference(
    a: Mapping[str, float], b: Mapping[str, float], *, samples: int = 10_000, seed: int = 0
) -> PairedDifference:
    """Compare per-query values ``a`` and ``b`` (query id -> value) on their shared queries (see module doc)."""
    queries = sorted(set(a) & set(b))
    if not queries:
        raise InputError("the two systems share no query; nothing to compare")
    diff = np.array([a[q] - b[q] for q in queries], dtype=np.float64)
    rng = np.random.default_rng(seed)
    boots = diff[rng.integers(len(diff), size=(samples, len(diff)))].mean(axis=1)
    signs = rng.integers(2, size=(samples, len(diff))) * 2 - 1
    flipped = np.abs(signs @ diff) / len(diff)
    mean = float(diff.mean())
    return PairedDifference(
        mean=mean,
        low=float(np.percentile(boots, 2.5)),
        high=float(np.percentile(boots, 97.5)),
        p=float((flipped >= abs(mean) - 1e-12).mean()),
        queries=len(queries),
    )
