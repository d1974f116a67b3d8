"""When the weekly report is due: ``mon 09:00`` (UTC) parsed, and the last due moment before now.

Pure, so the scheduler can ask every minute "which run is due?" and the run claim's key (the due
moment) makes it once per week across instances, even after a lead moves the time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)[a-z]*[\s@_-]+([01]?\d|2[0-3]):([0-5]\d)$")
# Turns the report off (as an empty setting does).
OFF = "off"


@dataclass(frozen=True)
class WeeklyTime:
    weekday: int  # Monday = 0
    hour: int
    minute: int

    def __str__(self) -> str:
        return f"{DAYS[self.weekday]} {self.hour:02d}:{self.minute:02d}"

    def last_due(self, now: datetime) -> datetime:
        """The latest scheduled moment at or before ``now`` (UTC)."""
        now = now.astimezone(UTC)
        start = now.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        moment = start - timedelta(days=(now.weekday() - self.weekday) % 7)
        return moment if moment <= now else moment - timedelta(days=7)


def parse_weekly_time(text: str) -> WeeklyTime:
    """``mon 09:00``, ``Friday 16:30``, ``fri-16:30`` → WeeklyTime; raises ``ValueError`` saying
    what to type."""
    match = _SPEC.match(text.strip().lower())
    if match is None:
        raise ValueError(
            f"expected a day and a UTC time such as 'mon 09:00' (or 'off'), not {text!r}"
        )
    day, hour, minute = match.groups()
    return WeeklyTime(DAYS.index(day), int(hour), int(minute))


def weekly_time_or_off(text: str) -> WeeklyTime | None:
    """``None`` for ``off`` or empty (the report is not sent), else :func:`parse_weekly_time`."""
    if text.strip().lower() in {"", OFF}:
        return None
    return parse_weekly_time(text)
