"""The ``threshold_setting`` rows, read from the database at most once per ``TTL_SECONDS``.

Every click (its approval requirement), every routed item (thresholds, quorum, the autonomy
policy) and every executed one (the spot-check share) needs these few rows; reading them each
time cost a pooled connection and two round trips per step. A change made through this process
(``forget`` after its commit) applies here at once; another instance's change within
``TTL_SECONDS``, as if it had been made that much later (``bot.store.per_database_cache``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from bot.store.database import SessionFactory
from bot.store.models import ThresholdSetting
from bot.store.per_database_cache import PerDatabaseCache

TTL_SECONDS = 2.0

_cache: PerDatabaseCache[dict[str, str]] = PerDatabaseCache(TTL_SECONDS)


async def stored_settings(sessions: SessionFactory) -> dict[str, str]:
    """Every stored setting, key → raw value (a copy: callers may change it)."""

    async def load() -> dict[str, str]:
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(col(ThresholdSetting.key), col(ThresholdSetting.value))
                )
            ).all()
        return {str(key): str(value) for key, value in rows}

    return dict(await _cache.get(sessions, load))


def forget(sessions: SessionFactory) -> None:
    """A setting changed: the next read goes to the database."""
    _cache.forget(sessions)
