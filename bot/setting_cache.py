"""The ``threshold_setting`` rows, read from the database at most once per ``TTL_SECONDS``.

Every click (its approval requirement), every routed item (thresholds, quorum, the autonomy
policy) and every executed one (the spot-check share) needs these few rows; reading them each
time cost a pooled connection and two round trips per step. A change made through this process
(``forget`` after its commit) applies here at once; another instance's change within
``TTL_SECONDS``, as if it had been made that much later.
"""

from __future__ import annotations

import time
import weakref

from sqlalchemy import select
from sqlmodel import col

from bot.database import SessionFactory
from bot.models import ThresholdSetting

TTL_SECONDS = 2.0

# Per database (its session factory): when the rows were read, and the rows.
_rows: weakref.WeakKeyDictionary[SessionFactory, tuple[float, dict[str, str]]] = (
    weakref.WeakKeyDictionary()
)
# Bumped by ``forget``: a read that started before a change must not be kept after it.
_generation: weakref.WeakKeyDictionary[SessionFactory, int] = weakref.WeakKeyDictionary()


async def stored_settings(sessions: SessionFactory) -> dict[str, str]:
    """Every stored setting, key → raw value (a copy: callers may change it)."""
    started = time.monotonic()
    cached = _rows.get(sessions)
    if cached is not None and started - cached[0] < TTL_SECONDS:
        return dict(cached[1])
    generation = _generation.get(sessions, 0)
    async with sessions() as session:
        rows = (
            await session.execute(select(col(ThresholdSetting.key), col(ThresholdSetting.value)))
        ).all()
    stored = {str(key): str(value) for key, value in rows}
    if _generation.get(sessions, 0) == generation:
        _rows[sessions] = (started, stored)
    return dict(stored)


def forget(sessions: SessionFactory) -> None:
    """A setting changed: the next read goes to the database."""
    _rows.pop(sessions, None)
    _generation[sessions] = _generation.get(sessions, 0) + 1
