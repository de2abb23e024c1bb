"""ECI: scoring a hard-negative set before training (information capacity x discriminative efficiency).

For one query with weakest-positive teacher score ``t_p`` (the minimum over its positives) and negatives with
teacher scores ``t_1 .. t_K``, a temperature ``T > 0`` and a safety margin ``m >= 0``:

* hardness of one negative  ``h_i = min(1, 2 * sigmoid((t_i - t_p) / T))``: 1 when the negative ties the
  positive (or scores above it: hardness saturates there, scoring above is a safety matter), falling toward 0
  as the negative scores far below; ``H = mean_i h_i``.
* safety ``S = |{i : t_i < t_p and t_p - t_i >= m}| / K``: the fraction of negatives strictly below the
  weakest positive by at least the margin (with ``m = 0``, a tie is unsafe).
* ``ECI = log(1 + K) * 2 H S / (H + S)`` (0 when ``H + S = 0``).

With no negatives (K = 0): H = 0, S = 1 (vacuously safe) and ECI = 0. A strategy's ECI is the mean over its
queries; its H, S and K are means too. Scales: cross-encoder logits use T = m = 1; cosine scores T = m = 0.05.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

DEFAULT_SCALES = {"cross-encoder": (1.0, 1.0), "bi-encoder": (0.05, 0.05)}


@dataclass(frozen=True)
class Eci:
    """ECI of one negative set (or the mean over queries, then ``k`` is fractional)."""

    k: float
    hardness: float
    safety: float
    eci: float

    def as_dict(self) -> dict[str, float]:
        return {name: round(value, 6) for name, value in asdict(self).items()}


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def query_eci(positive: float, negatives: Sequence[float], temperature: float, margin: float) -> Eci:
    """ECI of one query's negatives (teacher scores) against its weakest positive's teacher score."""
    if temperature <= 0 or margin < 0:
        raise ValueError("temperature must be > 0 and margin >= 0")
    k = len(negatives)
    if k == 0:
        return Eci(k=0, hardness=0.0, safety=1.0, eci=0.0)
    hardness = sum(min(1.0, 2.0 * _sigmoid((t - positive) / temperature)) for t in negatives) / k
    safety = sum(1 for t in negatives if t < positive and positive - t >= margin) / k
    efficiency = 0.0 if hardness + safety == 0 else 2 * hardness * safety / (hardness + safety)
    return Eci(k=k, hardness=hardness, safety=safety, eci=math.log1p(k) * efficiency)


def mean_eci(values: Iterable[Eci]) -> Eci:
    """The strategy-level ECI: each field averaged over queries (all zeros for no queries)."""
    values = list(values)
    if not values:
        return Eci(k=0, hardness=0.0, safety=0.0, eci=0.0)
    n = len(values)
    return Eci(
        k=sum(v.k for v in values) / n,
        hardness=sum(v.hardness for v in values) / n,
        safety=sum(v.safety for v in values) / n,
        eci=sum(v.eci for v in values) / n,
    )
