"""Every change a lead makes to a setting, as a record: proposed with its dry run, then applied,
cancelled or reverted.

A change to what runs without a human (``ChangeKind.ROUTING`` or ``AUTONOMY``) is proposed first
and applies only when a lead confirms it, having seen the replay; any other change applies at
once. Both leave an applied record, so ``revert`` can put any change back in one command (itself
a recorded change). Applying, confirming and reverting are each one transaction: the record's
status moves conditionally and the value is compare-and-set against what the lead saw, so two
leads acting at once never silently overwrite each other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.errors import SettingChangeRefusedError
from bot.lead_settings.autonomy_settings import load_learning_settings, policy_with
from bot.lead_settings.cache import forget
from bot.lead_settings.card_routes import ROUTE_KEY, forget_routes, revert_route_change
from bot.lead_settings.dry_run import replay, replay_autonomy, summary_lines
from bot.lead_settings.registry import (
    ChangeKind,
    SettingChange,
    SettingConflictError,
    change_kind,
    load_lead_settings,
    parse_value,
    stored_values,
    write_setting,
)
from bot.settings import Settings
from bot.store import audit
from bot.store.column_types import utcnow
from bot.store.database import SessionFactory, transaction
from bot.store.models import ThresholdChange

PROPOSED, APPLIED, CANCELLED, REVERTED = "proposed", "applied", "cancelled", "reverted"


async def _current(sessions: SessionFactory, settings: Settings, key: str) -> str:
    async with sessions() as session:
        return (await stored_values(session, settings)).get(key, "")


def _validated(key: str, raw: str) -> str:
    return parse_value(key, raw)


async def dry_run(
    sessions: SessionFactory, settings: Settings, *, key: str, old: str, new: str, now: datetime
) -> tuple[list[str], dict[str, Any]]:
    """What the change would have done over the last 30 days: lines for the lead, and the
    figures kept on the record."""
    kind = change_kind(key)
    if kind == ChangeKind.ROUTING:
        current = await load_lead_settings(sessions, settings)
        table = await replay(
            sessions,
            before=current.thresholds,
            after=current.thresholds.with_value(key, new),
            now=now,
        )
        lines = summary_lines(key, old, new, table)
        return lines, {"by_category": {c: r.as_dict() for c, r in table.items()}}
    if kind == ChangeKind.AUTONOMY:
        learning = await load_learning_settings(sessions, settings)
        buckets = await replay_autonomy(
            sessions, before=learning.policy, after=policy_with(learning.policy, key, new), now=now
        )
        return buckets.lines(key, old, new), {"buckets": buckets.as_dict()}
    return summary_lines(key, old, new, {}), {}


async def propose_change(
    sessions: SessionFactory, settings: Settings, *, key: str, raw: str, actor: str, now: datetime
) -> tuple[ThresholdChange, list[str]]:
    """Validate, replay and store a proposal; returns it with the dry run's lines."""
    new = _validated(key, raw)
    old = await _current(sessions, settings, key)
    if old == new:
        raise SettingChangeRefusedError(f"`{key}` is already `{new}`; nothing to change.")
    lines, figures = await dry_run(sessions, settings, key=key, old=old, new=new, now=now)
    async with transaction(sessions) as session:
        change = ThresholdChange(
            key=key,
            old_value=old,
            new_value=new,
            status=PROPOSED,
            proposed_by=actor,
            proposed_at=now,
            dry_run={"lines": lines, **figures},
        )
        session.add(change)
        await session.flush()
        await audit.record(
            session,
            "threshold_change_proposed",
            actor=actor,
            change_id=change.id,
            key=key,
            old=old,
            new=new,
            dry_run=figures,
        )
    return change, lines


async def apply_now(
    sessions: SessionFactory, settings: Settings, *, key: str, raw: str, actor: str
) -> SettingChange:
    """A change that needs no dry run (quorum, follow-up times, pause): applied and recorded."""
    new = _validated(key, raw)
    old = await _current(sessions, settings, key)
    if old == new:
        return SettingChange(key, old, new)
    async with transaction(sessions) as session:
        setting = await _write(session, settings, key=key, expect=old, new=new, actor=actor)
        await _record(session, key=key, old=old, new=new, actor=actor, note="applied at once")
    forget(sessions)
    return setting


async def confirm_change(
    sessions: SessionFactory, settings: Settings, *, change_id: int, actor: str
) -> SettingChange:
    change = await _get(sessions, change_id)
    if change.status != PROPOSED:
        raise SettingChangeRefusedError(f"Change #{change_id} is {change.status}, not waiting.")
    async with transaction(sessions) as session:
        await _move(session, change, expect=PROPOSED, status=APPLIED, actor=actor, taken="decided")
        setting = await _write(
            session,
            settings,
            key=change.key,
            expect=change.old_value,
            new=change.new_value,
            actor=actor,
            conflict="since this dry run; run it again",
        )
    forget(sessions)
    return setting


async def cancel_change(sessions: SessionFactory, *, change_id: int, actor: str) -> None:
    change = await _get(sessions, change_id)
    if change.status != PROPOSED:
        raise SettingChangeRefusedError(f"Change #{change_id} is {change.status}, not waiting.")
    async with transaction(sessions) as session:
        await _move(
            session, change, expect=PROPOSED, status=CANCELLED, actor=actor, taken="decided"
        )


async def revert_change(
    sessions: SessionFactory, settings: Settings, *, change_id: int | None, actor: str
) -> tuple[ThresholdChange, SettingChange]:
    """Put back the value an applied change replaced (the latest one when no id is given).

    Only while the setting still holds that change's value: reverting an older change over a
    newer one would silently undo the newer one too, so the newer one must be reverted first.
    """
    if change_id is None:
        change_id = await _latest_applied(sessions)
    change = await _get(sessions, change_id)
    if change.status != APPLIED:
        raise SettingChangeRefusedError(
            f"Change #{change_id} is {change.status}; only applied ones."
        )
    async with transaction(sessions) as session:
        await _move(session, change, expect=APPLIED, status=REVERTED, actor=actor, taken="reverted")
        if change.key == ROUTE_KEY:
            record = await revert_route_change(session, change, actor=actor)
            setting = SettingChange(change.key, change.new_value, change.old_value)
        else:
            record, setting = await _revert_setting(session, settings, change, actor)
    forget(sessions)
    forget_routes(sessions)
    return record, setting


async def _revert_setting(
    session: AsyncSession, settings: Settings, change: ThresholdChange, actor: str
) -> tuple[ThresholdChange, SettingChange]:
    setting = await _write(
        session,
        settings,
        key=change.key,
        expect=change.new_value,
        new=change.old_value,
        actor=actor,
        conflict="by a later change: revert that one first",
    )
    record = await _record(
        session,
        key=change.key,
        old=change.new_value,
        new=change.old_value,
        actor=actor,
        note=f"revert of change #{change.id}",
        reverts_id=change.id,
    )
    return record, setting


async def recent_changes(sessions: SessionFactory, limit: int = 5) -> list[ThresholdChange]:
    async with sessions() as session:
        rows = (
            await session.execute(
                select(ThresholdChange).order_by(col(ThresholdChange.id).desc()).limit(limit)
            )
        ).scalars()
        return list(rows)


async def _latest_applied(sessions: SessionFactory) -> int:
    async with sessions() as session:
        latest = (
            await session.execute(
                select(col(ThresholdChange.id))
                .where(col(ThresholdChange.status) == APPLIED)
                .order_by(col(ThresholdChange.id).desc())
                .limit(1)
            )
        ).scalar_one_or_none()
    if latest is None:
        raise SettingChangeRefusedError("There is no applied change to revert.")
    return int(latest)


async def _get(sessions: SessionFactory, change_id: int) -> ThresholdChange:
    async with sessions() as session:
        change = await session.get(ThresholdChange, change_id)
    if change is None:
        raise SettingChangeRefusedError(f"There is no threshold change #{change_id}.")
    return change


async def _move(
    session: AsyncSession,
    change: ThresholdChange,
    *,
    expect: str,
    status: str,
    actor: str,
    taken: str,
) -> None:
    """Move ``change`` from ``expect`` to ``status``, audited; the conditional update decides a
    race, and the loser is told the change was ``taken`` (decided, reverted) by someone else."""
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(ThresholdChange)
            .where(
                and_(col(ThresholdChange.id) == change.id, col(ThresholdChange.status) == expect)
            )
            .values(status=status, decided_by=actor, decided_at=utcnow())
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        raise SettingChangeRefusedError(
            f"Change #{change.id} was {taken} by someone else meanwhile."
        )
    await audit.record(
        session,
        f"threshold_change_{status}",
        actor=actor,
        change_id=change.id,
        key=change.key,
        old=change.old_value,
        new=change.new_value,
    )


async def _write(
    session: AsyncSession,
    settings: Settings,
    *,
    key: str,
    expect: str,
    new: str,
    actor: str,
    conflict: str = "meanwhile; look again and retry",
) -> SettingChange:
    try:
        return await write_setting(session, settings, key=key, expect=expect, new=new, actor=actor)
    except SettingConflictError as exc:
        raise SettingChangeRefusedError(f"{exc} {conflict}.") from None


async def _record(
    session: AsyncSession,
    *,
    key: str,
    old: str,
    new: str,
    actor: str,
    note: str,
    reverts_id: int | None = None,
) -> ThresholdChange:
    now = utcnow()
    record = ThresholdChange(
        key=key,
        old_value=old,
        new_value=new,
        status=APPLIED,
        proposed_by=actor,
        proposed_at=now,
        decided_by=actor,
        decided_at=now,
        dry_run={"lines": [note]},
        reverts_id=reverts_id,
    )
    session.add(record)
    await session.flush()
    return record
