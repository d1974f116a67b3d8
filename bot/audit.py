"""The append-only audit log: one row per step and per human decision.

``record`` only ever inserts; the migration installs triggers that refuse UPDATE and DELETE, so
even a bug elsewhere cannot rewrite history. Callers pass the session of the transaction that
made the change, so the change and its audit row commit together or not at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import AuditEvent, utcnow

SYSTEM = "system"
AUTO = "auto"


async def record(
    session: AsyncSession,
    event: str,
    *,
    item_id: str | None = None,
    actor: str = SYSTEM,
    **detail: Any,
) -> None:
    session.add(AuditEvent(at=utcnow(), item_id=item_id, actor=actor, event=event, detail=detail))
    await session.flush()
