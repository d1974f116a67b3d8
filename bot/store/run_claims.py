"""Claiming a once-only run across instances: the daily digest, the burst digest, posting slots.

APScheduler fires in every process; the row decides who acts. ``claim_run`` inserts the key
(``ON CONFLICT DO NOTHING``) or takes over a row whose hold has run out (a conditional UPDATE),
in one transaction, so of N instances firing at the same moment exactly one gets ``True``. A run
that crashed after claiming is not repeated before ``held_until``: these runs are notifications,
where missing one beats sending two.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import UpdateBase
from sqlmodel import col

from bot.store.database import SessionFactory, transaction
from bot.store.frozen_statement import FrozenStatement
from bot.store.models import RunClaim


def _claim(dialect: str) -> UpdateBase:
    """Insert a claim unless its key exists; RETURNING tells whether it did."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(RunClaim).on_conflict_do_nothing(index_elements=["key"]).returning(col(RunClaim.key))
    )


# Compiled once per dialect (``bot.store.frozen_statement``): a posting slot claims one per card.
_CLAIM = FrozenStatement(_claim)


async def claim_run(
    sessions: SessionFactory, key: str, *, by: str, now: datetime, until: datetime
) -> bool:
    """True when this caller owns the run ``key`` until ``until``."""
    async with transaction(sessions) as session:
        inserted = await session.execute(
            _CLAIM.for_dialect(session.bind.dialect),
            {"key": key, "claimed_by": by, "claimed_at": now, "held_until": until},
        )
        if inserted.scalar_one_or_none() is not None:
            return True
        taken = cast(
            CursorResult[Any],
            await session.execute(
                update(RunClaim)
                .where(and_(col(RunClaim.key) == key, col(RunClaim.held_until) <= now))
                .values(claimed_by=by, claimed_at=now, held_until=until)
                .execution_options(synchronize_session=False)
            ),
        )
        return taken.rowcount == 1


async def held_until(sessions: SessionFactory, key: str) -> datetime | None:
    """Until when the run ``key`` is held (None: never claimed), so a caller that lost the
    claim can wait exactly that long instead of polling."""
    async with sessions() as session:
        return (
            await session.execute(select(col(RunClaim.held_until)).where(col(RunClaim.key) == key))
        ).scalar_one_or_none()
