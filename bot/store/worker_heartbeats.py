"""Worker heartbeats: how a web process without a worker of its own knows workers are alive.

Each worker loop's last pass (``Worker.last_loop_at``) is written to a ``run_claim`` row keyed
``worker_heartbeat:<worker_id>`` on every sweep tick; the row's ``claimed_at`` is the wall-clock
time of that pass, not of the write, so a loop that has stalled stops looking alive even while
its scheduler still ticks. ``held_until`` is ``claimed_at`` plus the staleness window, which is
what ``/healthz`` counts. The table already exists for once-only runs, so no migration is needed;
the ``worker_heartbeat:`` prefix keeps these rows apart from real claims.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from bot.store.column_types import utcnow
from bot.store.database import SessionFactory, transaction
from bot.store.models import RunClaim

KEY_PREFIX = "worker_heartbeat:"
# A worker whose loop has not passed for this long counts as gone (the loop passes at least once
# a second when idle), the same window `/healthz` allows a process's own worker.
STALE_AFTER = timedelta(seconds=60)


def heartbeat_key(worker_id: str) -> str:
    return (KEY_PREFIX + worker_id)[:100]


def loop_wall_time(last_loop_at: float | None, *, now: datetime | None = None) -> datetime | None:
    """``Worker.last_loop_at`` (a monotonic reading, meaningless to another process) as UTC."""
    if last_loop_at is None:
        return None
    return (now or utcnow()) - timedelta(seconds=max(0.0, time.monotonic() - last_loop_at))


async def record_heartbeat(sessions: SessionFactory, worker_id: str, *, loop_at: datetime) -> None:
    """Insert or move this worker's row to ``loop_at`` (one statement: no read, no race)."""
    async with transaction(sessions) as session:
        dialect = session.bind.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(RunClaim).values(
            key=heartbeat_key(worker_id),
            claimed_by=worker_id[:64],
            claimed_at=loop_at,
            held_until=loop_at + STALE_AFTER,
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "claimed_at": statement.excluded.claimed_at,
                    "held_until": statement.excluded.held_until,
                },
            )
        )


async def forget_heartbeat(sessions: SessionFactory, worker_id: str) -> None:
    """A worker that shut down cleanly stops counting at once, not a minute later."""
    async with transaction(sessions) as session:
        await session.execute(delete(RunClaim).where(col(RunClaim.key) == heartbeat_key(worker_id)))


async def workers_seen(sessions: SessionFactory, *, now: datetime) -> int:
    """How many workers' loops passed within ``STALE_AFTER`` of ``now``."""
    async with sessions() as session:
        count = await session.execute(
            select(func.count())
            .select_from(RunClaim)
            .where(
                and_(
                    col(RunClaim.key).startswith(KEY_PREFIX, autoescape=True),
                    col(RunClaim.held_until) > now,
                )
            )
        )
        return int(count.scalar_one())


async def delete_heartbeats_before(sessions: SessionFactory, cutoff: datetime) -> int:
    """Rows of workers that stopped without cleaning up (killed, crashed) and whose last pass is
    older than ``cutoff``; each restart has a new worker id, so nothing else removes them."""
    async with transaction(sessions) as session:
        result = cast(
            CursorResult[Any],
            await session.execute(
                delete(RunClaim)
                .where(
                    and_(
                        col(RunClaim.key).startswith(KEY_PREFIX, autoescape=True),
                        col(RunClaim.claimed_at) < cutoff,
                    )
                )
                .execution_options(synchronize_session=False)
            ),
        )
        return int(result.rowcount)
