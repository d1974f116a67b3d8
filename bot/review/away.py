"""Who is away right now: what people said with ``/signoff away`` and, when
``SIGNOFF_RESPECT_SLACK_STATUS=true``, what their Slack status and Do Not Disturb say.

The rules (who stands in, who an escalation reaches) are ``policies.away``; this module reads
and writes the ``reviewer_away`` rows and Slack's per-user status. Slack's reads are per user and
rate-limited (tier 3/4), so each answer is cached for ``SLACK_STATUS_TTL`` seconds, and a
failure reads as "present": a Slack outage never silences reminders.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import delete, select
from sqlmodel import col

from bot.logging_setup import get_logger
from bot.store import audit
from bot.store.column_types import utcnow
from bot.store.database import SessionFactory, transaction
from bot.store.models import ReviewerAway
from bot.store.per_database_cache import PerDatabaseCache
from policies.away import Absence

log = get_logger(__name__)
SLACK_STATUS_TTL = 300.0
_rows: PerDatabaseCache[dict[str, Absence]] = PerDatabaseCache(2.0)


async def set_away(
    sessions: SessionFactory, *, user_id: str, until: datetime, delegate: str | None
) -> None:
    """Record (or replace) ``user_id``'s absence, with its audit row."""
    async with transaction(sessions) as session:
        row = await session.get(ReviewerAway, user_id)
        if row is None:
            session.add(
                ReviewerAway(user_id=user_id, until=until, delegate=delegate, set_at=utcnow())
            )
        else:
            row.until, row.delegate, row.set_at = until, delegate, utcnow()
        await audit.record(
            session, "away_set", actor=user_id, until=until.isoformat(), delegate=delegate
        )
    _rows.forget(sessions)


async def end_away(sessions: SessionFactory, *, user_id: str) -> bool:
    """``/signoff back``: False when there was no absence to end."""
    async with transaction(sessions) as session:
        row = await session.get(ReviewerAway, user_id)
        if row is None:
            return False
        ended_early = row.until > utcnow()
        await session.execute(delete(ReviewerAway).where(col(ReviewerAway.user_id) == user_id))
        await audit.record(session, "away_ended", actor=user_id, early=ended_early)
    _rows.forget(sessions)
    return ended_early


async def recorded_absences(sessions: SessionFactory) -> dict[str, Absence]:
    """Every absence set with ``/signoff away`` that has not ended (cached briefly)."""

    async def load() -> dict[str, Absence]:
        async with sessions() as session:
            rows = await session.execute(
                select(ReviewerAway).where(col(ReviewerAway.until) > utcnow())
            )
            return {
                row.user_id: Absence(row.user_id, row.until, row.delegate) for row in rows.scalars()
            }

    return dict(await _rows.get(sessions, load))


class AwayBook:
    """Absences from both places, for the people a reminder, escalation or card is about."""

    def __init__(
        self, sessions: SessionFactory, client: AsyncWebClient | None, *, respect_slack: bool
    ) -> None:
        self._sessions = sessions
        self._client = client if respect_slack else None
        self._slack: dict[str, tuple[float, Absence | None]] = {}

    async def absences(self, people: Iterable[str], now: datetime) -> dict[str, Absence]:
        """Absences of ``people`` and of their delegates, in force at ``now``. What a person set
        in Signoff wins over their Slack status (it names a delegate)."""
        found = {
            k: v for k, v in (await recorded_absences(self._sessions)).items() if v.until > now
        }
        if self._client is None:
            return found
        wanted = set(people) | {a.delegate for a in found.values() if a.delegate}
        for user in sorted(wanted - set(found)):
            absence = await self._slack_absence(user, now)
            if absence is not None and absence.until > now:
                found[user] = absence
        return found

    async def _slack_absence(self, user: str, now: datetime) -> Absence | None:
        cached = self._slack.get(user)
        if cached is not None and time.monotonic() - cached[0] < SLACK_STATUS_TTL:
            return cached[1]
        assert self._client is not None
        absence: Absence | None = None
        try:
            profile = (await self._client.users_profile_get(user=user)).get("profile") or {}
            dnd = await self._client.dnd_info(user=user)
            absence = slack_absence(user, profile, dict(dnd.data), now)  # type: ignore[arg-type]
        except (SlackApiError, SlackClientError) as exc:
            log.warning("slack status unavailable; counting as present", user=user, error=str(exc))
        self._slack[user] = (time.monotonic(), absence)
        return absence


def slack_absence(
    user: str, profile: dict[str, object], dnd: dict[str, object], now: datetime
) -> Absence | None:
    """Away per Slack: Do Not Disturb on now (until it ends), or a status (text or emoji) that
    expires later (until it expires). A status without an expiry says nothing about when the
    person is back, so it does not count."""
    stamp = now.timestamp()
    ends: list[float] = []
    dnd_start, dnd_end = _number(dnd.get("next_dnd_start_ts")), _number(dnd.get("next_dnd_end_ts"))
    if dnd.get("dnd_enabled") and dnd_start <= stamp < dnd_end:
        ends.append(dnd_end)
    snooze_end = _number(dnd.get("snooze_endtime"))
    if dnd.get("snooze_enabled") and snooze_end > stamp:
        ends.append(snooze_end)
    expires = _number(profile.get("status_expiration"))
    if (profile.get("status_text") or profile.get("status_emoji")) and expires > stamp:
        ends.append(expires)
    if not ends:
        return None
    return Absence(user, datetime.fromtimestamp(max(ends), UTC), None, source="slack")


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
