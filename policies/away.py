"""Who is away, and who stands in for them: reminders, escalations and cards ask here.

Pure: absences (set with ``/signoff away``, or read from Slack's status) come in as values with
the clock, so the rules are tested without a database or Slack. A delegate receives what would
have gone to the person away, unless the delegate is away too; an escalation always reaches a
lead who is present when there is one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from policies.errors import PolicyInputError

_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_DURATION = re.compile(r"(\d{1,4})(m|h|d|w)")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
_UNITS["w"] = timedelta(weeks=1)
# Nobody is away for more than this from one command (a typo such as 2026-21-01 is refused).
MAX_AWAY = timedelta(days=120)


class InvalidUntilError(PolicyInputError):
    """``until`` is not a date, a time or a duration Signoff reads; the message says which."""


@dataclass(frozen=True)
class Absence:
    user_id: str
    until: datetime
    delegate: str | None = None
    # "signoff" (the person said so) or "slack" (their Slack status or Do Not Disturb).
    source: str = "signoff"


def is_away(user_id: str, absences: Mapping[str, Absence], now: datetime) -> bool:
    absence = absences.get(user_id)
    return absence is not None and absence.until > now


def delegate_of(user_id: str, absences: Mapping[str, Absence], now: datetime) -> str | None:
    """Who stands in for an away ``user_id``: their delegate, if that person is not away too."""
    absence = absences.get(user_id)
    if absence is None or absence.until <= now or not absence.delegate:
        return None
    return None if is_away(absence.delegate, absences, now) else absence.delegate


def stand_ins(people: Iterable[str], absences: Mapping[str, Absence], now: datetime) -> list[str]:
    """Who receives what was meant for ``people``: those present, and the delegates of those
    away (each once, in a stable order)."""
    chosen: dict[str, None] = {}
    for person in sorted(set(people)):
        if not is_away(person, absences, now):
            chosen[person] = None
            continue
        stand_in = delegate_of(person, absences, now)
        if stand_in is not None:
            chosen[stand_in] = None
    return list(chosen)


@dataclass(frozen=True)
class EscalationTargets:
    people: list[str]
    # Said in the card's thread when the leads' absence changed who was told.
    note: str | None


def escalation_targets(
    leads: Iterable[str], absences: Mapping[str, Absence], now: datetime
) -> EscalationTargets:
    """The leads who are present and the delegates of those away. When every lead is away and no
    delegate is free, all leads are told anyway: an escalation must never reach nobody."""
    everyone = sorted(set(leads))
    away = [lead for lead in everyone if is_away(lead, absences, now)]
    people = stand_ins(everyone, absences, now)
    if not away:
        return EscalationTargets(people, None)
    named = ", ".join(f"<@{lead}>" for lead in away)
    if not people:
        return EscalationTargets(everyone, f"Every lead is away ({named}); told them anyway.")
    return EscalationTargets(people, f"Away, not notified: {named}.")


def parse_until(text: str, now: datetime, tz: tzinfo = UTC) -> datetime:
    """``2026-12-24`` (back on that day, at its start), ``17:00`` (today, or tomorrow when that
    time has passed), or a duration ``90m``, ``4h``, ``3d``, ``2w``; dates and times are in
    ``tz`` (the person's Slack time zone). Answers an aware UTC datetime after ``now``."""
    raw = text.strip().lower()
    local_now = now.astimezone(tz)
    if found := _DATE.fullmatch(raw):
        try:
            day = date(int(found[1]), int(found[2]), int(found[3]))
        except ValueError:
            raise InvalidUntilError(f"`{raw}` is not a date") from None
        until = datetime.combine(day, time(0, 0), tzinfo=tz)
    elif found := _TIME.fullmatch(raw):
        hour, minute = int(found[1]), int(found[2])
        if hour > 23 or minute > 59:
            raise InvalidUntilError(f"`{raw}` is not a time of day")
        until = datetime.combine(local_now.date(), time(hour, minute), tzinfo=tz)
        if until <= local_now:
            until += timedelta(days=1)
    elif found := _DURATION.fullmatch(raw):
        until = now + int(found[1]) * _UNITS[found[2]]
    else:
        raise InvalidUntilError(
            "say until when: a date (`2026-12-24`), a time (`17:00`) or a duration "
            "(`90m`, `4h`, `3d`, `2w`)"
        )
    until = until.astimezone(UTC)
    if until <= now:
        raise InvalidUntilError(f"`{raw}` is already past")
    if until - now > MAX_AWAY:
        raise InvalidUntilError("at most 120 days ahead")
    return until
