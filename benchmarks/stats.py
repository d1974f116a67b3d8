"""Summaries of latency samples: the same nearest-rank percentiles everywhere, in milliseconds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: an observed value, never an interpolation between two."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarise_ms(seconds: Sequence[float]) -> dict[str, Any]:
    """Count, median, p99 and max of latencies given in seconds, reported in milliseconds."""
    ordered = sorted(seconds)
    if not ordered:
        return {"count": 0, "median_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "count": len(ordered),
        "median_ms": round(percentile(ordered, 0.5) * 1000, 2),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def ratio(value: float | None, floor: float | None) -> float | None:
    """``value / floor`` rounded, or None when either is missing or the floor is zero."""
    if value is None or floor is None or floor == 0:
        return None
    return round(value / floor, 2)
