"""Agreement between a judge's grades and human grades on the same pairs.

- **Cohen's kappa** on the binary label (grade >= threshold): kappa = (p_o - p_e) / (1 - p_e), p_o the
  observed agreement and p_e the agreement expected from the two label distributions alone (0: chance,
  1: perfect).
- **Quadratic-weighted kappa** on the grades 0-3: disagreements cost (i - j)^2, so 3 vs 0 counts nine times
  1 vs 0 (the usual choice for ordinal relevance scales; equal to an interval Krippendorff's alpha up to the
  small-sample correction).
- Each with a 95% percentile bootstrap interval over pairs (``samples`` resamples, seeded), plus the 4 x 4
  confusion matrix (rows human, columns judge) and the binary accuracy.

Kappas come from ``sklearn.metrics.cohen_kappa_score``; a resample in which one side has a single label
everywhere has an undefined kappa and is left out of the interval.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

GRADES = (0, 1, 2, 3)


@dataclass(frozen=True)
class Kappa:
    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


@dataclass(frozen=True)
class Agreement:
    pairs: int
    binary_kappa: Kappa
    weighted_kappa: Kappa
    accuracy: float
    confusion: list[list[int]]  # [human grade][judge grade]
    threshold: int

    def as_dict(self) -> dict[str, object]:
        return {
            "pairs": self.pairs,
            "threshold": self.threshold,
            "binary_kappa": vars(self.binary_kappa),
            "weighted_kappa": vars(self.weighted_kappa),
            "binary_accuracy": self.accuracy,
            "confusion": self.confusion,
        }


def _kappa(a: np.ndarray, b: np.ndarray, weights: str | None) -> float:
    from sklearn.metrics import cohen_kappa_score

    labels = list(GRADES) if weights else [0, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined (one side constant): nan, left out of the interval
        value = cohen_kappa_score(a, b, labels=labels, weights=weights)
    return float(value)


def _with_interval(a: np.ndarray, b: np.ndarray, weights: str | None, samples: int, seed: int) -> Kappa:
    rng = np.random.default_rng(seed)
    draws = rng.integers(len(a), size=(samples, len(a)))
    values = np.array([_kappa(a[d], b[d], weights) for d in draws])
    values = values[np.isfinite(values)]
    low, high = np.percentile(values, [2.5, 97.5]) if len(values) else (np.nan, np.nan)
    return Kappa(_kappa(a, b, weights), float(low), float(high))


def agreement(
    human: Sequence[int], judge: Sequence[int], threshold: int, *, samples: int = 1000, seed: int = 0
) -> Agreement:
    """Agreement of ``judge`` with ``human`` grades (same pairs, same order; grades outside 0-3 are clipped)."""
    if len(human) != len(judge) or not human:
        raise ValueError("agreement needs two equally long, non-empty grade lists")
    h = np.clip(np.asarray(human, dtype=int), 0, 3)
    j = np.clip(np.asarray(judge, dtype=int), 0, 3)
    hb, jb = (h >= threshold).astype(int), (j >= threshold).astype(int)
    confusion = np.zeros((4, 4), dtype=int)
    np.add.at(confusion, (h, j), 1)
    return Agreement(
        pairs=len(h),
        binary_kappa=_with_interval(hb, jb, None, samples, seed),
        weighted_kappa=_with_interval(h, j, "quadratic", samples, seed),
        accuracy=float((hb == jb).mean()),
        confusion=confusion.tolist(),
        threshold=threshold,
    )
