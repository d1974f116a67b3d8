"""The leads' card routes: stored in ``card_route``, read through a short cache, changed with an
audit row and a change record so ``/signoff change revert`` undoes an added or removed rule
like any other lead setting.

Matching itself is ``policies.card_routes.first_match`` (pure); this module only reads and
writes the rules. A removed rule keeps its row (``removed_at``), so reverting a removal brings
the same rule, with its number, back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.errors import SettingChangeRefusedError
from bot.store import audit
from bot.store.column_types import utcnow
from bot.store.database import SessionFactory, transaction
from bot.store.models import CardRoute as CardRouteRow
from bot.store.models import ThresholdChange
from bot.store.per_database_cache import PerDatabaseCache
from policies.card_routes import CardRoute, Selector, parse_selector

# The change records' key for route changes (``threshold_change.key``).
ROUTE_KEY = "card_route"
TTL_SECONDS = 2.0

_cache: PerDatabaseCache[list[CardRoute]] = PerDatabaseCache(TTL_SECONDS)


def describe(route: CardRoute) -> str:
    """``#3 category:refund → <#C123>`` (with ``, decided by <!subteam^S1>`` for a group)."""
    who = (
        f", decided by <!subteam^{route.reviewer_group}> and leads" if route.reviewer_group else ""
    )
    return f"#{route.id} `{route.selector}` → <#{route.channel}>{who}"


def _rule(row: CardRouteRow) -> CardRoute:
    assert row.id is not None
    return CardRoute(row.id, parse_selector(row.selector), row.channel, row.reviewer_group)


async def active_routes(sessions: SessionFactory) -> list[CardRoute]:
    """The rules in force, oldest first (the order they are matched in)."""

    async def load() -> list[CardRoute]:
        async with sessions() as session:
            rows = await session.execute(
                select(CardRouteRow)
                .where(col(CardRouteRow.removed_at).is_(None))
                .order_by(col(CardRouteRow.id))
            )
            return [_rule(row) for row in rows.scalars()]

    return list(await _cache.get(sessions, load))


async def add_route(
    sessions: SessionFactory,
    *,
    selector: Selector,
    channel: str,
    reviewer_group: str | None,
    actor: str,
) -> tuple[CardRoute, int]:
    """Store a rule (last in line), its audit row and its change record; returns the rule and
    the change number that reverts it."""
    now = utcnow()
    async with _changing_rules(sessions) as session:
        row = CardRouteRow(
            selector=str(selector),
            channel=channel,
            reviewer_group=reviewer_group,
            created_by=actor,
            created_at=now,
        )
        session.add(row)
        await session.flush()
        rule = _rule(row)
        change = await _change(
            session, rule, "card_route_added", actor=actor, added=True, note="route added"
        )
    return rule, _number(change)


async def remove_route(
    sessions: SessionFactory, *, route_id: int, actor: str
) -> tuple[CardRoute, int]:
    async with _changing_rules(sessions) as session:
        row = await session.get(CardRouteRow, route_id)
        if row is None or row.removed_at is not None:
            raise SettingChangeRefusedError(f"There is no route #{route_id} in force.")
        rule = _rule(row)
        await _set_removed(session, rule, actor=actor, removed=True)
        change = await _change(
            session, rule, "card_route_removed", actor=actor, added=False, note="route removed"
        )
    return rule, _number(change)


async def revert_route_change(
    session: AsyncSession, change: ThresholdChange, *, actor: str
) -> ThresholdChange:
    """Undo one route change inside the caller's transaction (``changes.revert_change``, which
    then calls ``forget_routes``): an added rule is removed, a removed one restored. Refused when
    the rule moved since (compare-and-set on ``removed_at``)."""
    route_id = int(change.dry_run.get("route_id", 0))
    row = await session.get(CardRouteRow, route_id)
    if row is None:
        raise SettingChangeRefusedError(f"Route #{route_id} does not exist.")
    rule = _rule(row)
    was_added = change.old_value == ""
    await _set_removed(session, rule, actor=actor, removed=was_added)
    return await _change(
        session,
        rule,
        "card_route_removed" if was_added else "card_route_restored",
        actor=actor,
        added=not was_added,
        note=f"revert of change #{change.id}",
        reverts_id=change.id,
    )


@asynccontextmanager
async def _changing_rules(sessions: SessionFactory) -> AsyncIterator[AsyncSession]:
    """A transaction that changes the rules; once it commits, the next read goes to the
    database (on an error nothing changed, and the cache stays right)."""
    async with transaction(sessions) as session:
        yield session
    _cache.forget(sessions)


def _number(change: ThresholdChange) -> int:
    """The change record's number (``/signoff change revert <#>``), known once it is flushed."""
    assert change.id is not None
    return change.id


def forget_routes(sessions: SessionFactory) -> None:
    """A rule changed (after its commit): the next read goes to the database."""
    _cache.forget(sessions)


async def _set_removed(
    session: AsyncSession, rule: CardRoute, *, actor: str, removed: bool
) -> None:
    """Remove or restore ``rule``, only from the opposite state (two leads at once: one wins)."""
    now = utcnow()
    expect = (
        col(CardRouteRow.removed_at).is_(None)
        if removed
        else col(CardRouteRow.removed_at).is_not(None)
    )
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(CardRouteRow)
            .where(col(CardRouteRow.id) == rule.id, expect)
            .values(removed_at=now if removed else None, removed_by=actor if removed else None)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        state = "already removed" if removed else "in force again"
        raise SettingChangeRefusedError(f"Route #{rule.id} is {state}; nothing changed.")


async def _change(
    session: AsyncSession,
    rule: CardRoute,
    event: str,
    *,
    actor: str,
    added: bool,
    note: str,
    reverts_id: int | None = None,
) -> ThresholdChange:
    """The applied change record (``/signoff change`` lists it and reverts it) and its audit
    ``event``, written in that order: the audit chain's lock is always taken last."""
    now = utcnow()
    text = describe(rule)[:200]
    record = ThresholdChange(
        key=ROUTE_KEY,
        old_value="" if added else text,
        new_value=text if added else "",
        status="applied",
        proposed_by=actor,
        proposed_at=now,
        decided_by=actor,
        decided_at=now,
        dry_run={"lines": [note], "route_id": rule.id},
        reverts_id=reverts_id,
    )
    session.add(record)
    await session.flush()
    reverts: dict[str, Any] = {"reverts_change": reverts_id} if reverts_id is not None else {}
    await audit.record(session, event, actor=actor, **reverts, **_detail(rule))
    return record


def _detail(rule: CardRoute) -> dict[str, Any]:
    return {
        "route_id": rule.id,
        "selector": str(rule.selector),
        "channel": rule.channel,
        "reviewer_group": rule.reviewer_group,
    }
