"""Durations as people write them: ``90s``, ``30m``, ``2h``, ``1h30m``, ``1d``.

Operators write them in the environment and leads in Slack; both are read here, with one bound
(:data:`MAX_DURATION`) so ``inf``, ``1e400`` or ``99999999999d`` is refused with a message instead
of overflowing somewhere later.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

# The longest span any duration setting or command may name.
MAX_DURATION = timedelta(days=3650)

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_SHOWN_MAX = 40  # characters of a refused duration quoted back


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``2h``, ``1h30m``, ``1d`` or plain seconds: how people write durations
    (operators in the environment, leads in Slack). ``inf``, ``nan``, ``1e400`` and spans past
    :data:`MAX_DURATION` are refused with a message, never an overflow."""
    value = text.strip().lower().replace(" ", "")
    shown = repr(text[:_SHOWN_MAX] + ("…" if len(text) > _SHOWN_MAX else ""))
    try:
        if _DURATION_PART.sub("", value) == "" and value:
            seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION_PART.findall(value))
        else:
            seconds = float(value)
    except ValueError:
        raise ValueError(f"{shown} is not a duration such as 90s, 30m, 2h or 1d") from None
    if not math.isfinite(seconds):
        raise ValueError(f"{shown} is not a finite duration (use e.g. 90s, 30m, 2h or 1d)")
    if seconds <= 0:
        raise ValueError("must be positive")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{shown} is longer than {MAX_DURATION.days}d")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The short form ``parse_duration`` reads back: ``2h``, ``1h30m``, ``3d``."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
