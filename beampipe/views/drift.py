"""Distances between two statistics of one feature: how far a split or a span has moved.

The measures are TFDV's: L-infinity distance for categorical features (the largest change in
any value's share) and Jensen-Shannon divergence for numeric ones (over the standard
histograms, re-bucketed onto the union of both bucket edges, mass spread evenly inside a
bucket). Computed here from the saved statistics rather than by TFDV, so a page shows drift
for any two ExampleStatistics without TFDV, Beam or a schema. TFDV itself flags drift only
where a schema sets a comparator; its measurements appear in the anomalies view.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

L_INFINITY_THRESHOLD = 0.1
"""Categorical drift when some value's share changed by more than this (TFDV's comparator
has no default; 0.1 is a change that is visible in a bar chart)."""

JENSEN_SHANNON_THRESHOLD = 0.1
"""Numeric drift when the JS divergence (base 2, between 0 and 1) exceeds this."""


@dataclass(frozen=True)
class Drift:
    """One feature's distance between a base and a compared statistics, and the verdict."""

    measure: str  # "L-infinity" or "Jensen-Shannon"
    value: float
    threshold: float

    @property
    def drifted(self) -> bool:
        return self.value > self.threshold


def value_shares(feature: Any) -> dict[str, float]:
    """Each listed value's share of all values of a string feature (rank histogram, else top values)."""
    s = feature.string_stats
    pairs = ([(b.label, b.sample_count) for b in s.rank_histogram.buckets]
             or [(v.value, v.frequency) for v in s.top_values])
    listed = sum(c for _, c in pairs)
    total = s.common_stats.tot_num_values or listed
    return {label: count / total for label, count in pairs} if total else {}


def l_infinity(base: dict[str, float], other: dict[str, float]) -> float:
    return max((abs(base.get(k, 0.0) - other.get(k, 0.0)) for k in set(base) | set(other)), default=0.0)


def standard_buckets(feature: Any) -> list[tuple[float, float, float]]:
    """The (low, high, count) buckets of a numeric feature's STANDARD histogram."""
    for hist in feature.num_stats.histograms:
        if hist.type == 0:  # Histogram.STANDARD
            return [(b.low_value, b.high_value, b.sample_count) for b in hist.buckets]
    return []


def _rebucket(buckets: list[tuple[float, float, float]], edges: list[float]) -> list[float]:
    out = [0.0] * (len(edges) - 1)
    for low, high, count in buckets:
        if not all(math.isfinite(v) for v in (low, high)):
            continue
        for i in range(len(edges) - 1):
            lo, hi = edges[i], edges[i + 1]
            if high <= low:  # a point bucket (a constant feature): all mass where it falls
                if lo <= low <= hi:
                    out[i] += count
                    break
                continue
            overlap = min(high, hi) - max(low, lo)
            if overlap > 0:
                out[i] += count * overlap / (high - low)
    return out


def jensen_shannon(base: list[tuple[float, float, float]], other: list[tuple[float, float, float]]) -> float:
    """JS divergence (base 2) of two histograms with possibly different bucket edges."""
    edges = sorted({v for b in base + other for v in b[:2] if math.isfinite(v)})
    if len(edges) < 2:
        return 0.0
    p, q = _rebucket(base, edges), _rebucket(other, edges)
    sp, sq = sum(p), sum(q)
    if not sp or not sq:
        return 0.0
    p, q = [x / sp for x in p], [x / sq for x in q]

    def kl(a: list[float], m: list[float]) -> float:
        return sum(x * math.log2(x / y) for x, y in zip(a, m) if x > 0 and y > 0)

    mid = [(x + y) / 2 for x, y in zip(p, q)]
    return max(0.0, min(1.0, (kl(p, mid) + kl(q, mid)) / 2))


def feature_drift(base: Any, other: Any) -> Drift | None:
    """The distance between two FeatureNameStatistics of one feature, or None when they are
    not comparable (different kinds, no histogram)."""
    kind = base.WhichOneof("stats")
    if kind != other.WhichOneof("stats"):
        return None
    if kind == "string_stats":
        return Drift("L-infinity", l_infinity(value_shares(base), value_shares(other)), L_INFINITY_THRESHOLD)
    if kind == "num_stats":
        a, b = standard_buckets(base), standard_buckets(other)
        if not a or not b:
            return None
        return Drift("Jensen-Shannon", jensen_shannon(a, b), JENSEN_SHANNON_THRESHOLD)
    return None
