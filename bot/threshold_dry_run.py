"""Changing a threshold with evidence: a dry run over the last 30 days, then confirm or cancel.

Before a lead loosens (or tightens) a routing threshold, Signoff replays the last 30 days of items
through the thresholds policy with the new value: how many items would have been auto-executed,
by category, which of them humans actually reviewed and how often they rejected or edited them,
and a few examples. The proposal is stored; ``confirm`` applies it through the same audited path
as ``/signoff set``, ``cancel`` drops it, and ``revert`` puts the previous value back in one
command (itself a recorded change).

The replay uses each item's model risk as assessed at the time (from its ``assessed`` audit row)
and the rule floor recomputed under the new value, exactly as ``pipeline._route`` would. It
replays the thresholds only: earned autonomy is per bucket and is shown by ``/signoff autonomy``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from bot import audit
from bot.approval_card import masked
from bot.database import SessionFactory, transaction
from bot.item_states import DecisionOutcome, ItemState
from bot.lead_settings import (
    QUORUM_AMOUNT,
    LeadSettings,
    SettingChange,
    change_setting,
    load_lead_settings,
    parse_value,
)
from bot.models import AuditEvent, Decision, Item, ThresholdChange, utcnow
from bot.settings import Settings
from bot.slack_text import safe, truncate
from policies.risk_levels import RiskLevel
from policies.risk_rules import TicketFacts, risk_floor
from policies.routing import Route, decide_route
from policies.thresholds import Thresholds

DRY_RUN_DAYS = 30
EXAMPLES = 3
ROUTING_KEYS = frozenset({"auto_approve_max_risk", "refund_auto_limit"})

PROPOSED, APPLIED, CANCELLED, REVERTED = "proposed", "applied", "cancelled", "reverted"


class ThresholdChangeError(ValueError):
    """A change that cannot be made as asked; the message says why and what to do."""


@dataclass
class CategoryReplay:
    items: int = 0
    auto_before: int = 0
    auto_after: int = 0
    newly_auto: int = 0
    newly_review: int = 0
    # Of the newly auto items, what humans actually did with them.
    reviewed: int = 0
    rejected: int = 0
    edited: int = 0
    examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "auto_before": self.auto_before,
            "auto_after": self.auto_after,
            "newly_auto": self.newly_auto,
            "newly_review": self.newly_review,
            "reviewed": self.reviewed,
            "rejected": self.rejected,
            "edited": self.edited,
            "examples": self.examples,
        }


def replay_route(item: Item, model_risk: RiskLevel | None, thresholds: Thresholds) -> Route:
    """The route ``pipeline._route`` would have taken for ``item`` under ``thresholds``."""
    facts = TicketFacts.of(
        text=f"{item.subject}\n{item.body}",
        action=item.ai_action or item.proposed_action,
        requested=item.requested_action,
        customer_tier=item.customer_tier,
        sentiment=item.sentiment,
        category=item.category,
    )
    floor = risk_floor(facts, thresholds)
    return decide_route(
        facts=facts, floor=floor, model_risk=model_risk, thresholds=thresholds
    ).route


async def _model_risks(sessions: SessionFactory, since: datetime) -> dict[str, RiskLevel | None]:
    async with sessions() as session:
        rows = (
            await session.execute(
                select(col(AuditEvent.item_id), col(AuditEvent.detail)).where(
                    col(AuditEvent.event) == "assessed", col(AuditEvent.at) >= since
                )
            )
        ).all()
    risks: dict[str, RiskLevel | None] = {}
    for item_id, detail in rows:
        if item_id is None:
            continue
        try:
            risks[item_id] = None if detail.get("error") else RiskLevel(detail.get("risk_level"))
        except ValueError:
            risks[item_id] = None
    return risks


async def replay(
    sessions: SessionFactory,
    *,
    before: Thresholds,
    after: Thresholds,
    now: datetime,
    days: int = DRY_RUN_DAYS,
) -> dict[str, CategoryReplay]:
    since = now - timedelta(days=days)
    risks = await _model_risks(sessions, since - timedelta(days=1))
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Item, Decision)
                .outerjoin(Decision, col(Decision.id) == col(Item.decision_id))
                .where(
                    col(Item.created_at) >= since,
                    col(Item.state).not_in([ItemState.RECEIVED, ItemState.ASSESSED]),
                )
                .order_by(col(Item.created_at).desc())
            )
        ).all()
    # The replay is CPU work (rules over every item of the month): off the event loop.
    return await asyncio.to_thread(
        _replay_rows, [(row[0], row[1]) for row in rows], risks, before, after
    )


def _replay_rows(
    rows: list[tuple[Item, Decision | None]],
    risks: dict[str, RiskLevel | None],
    before: Thresholds,
    after: Thresholds,
) -> dict[str, CategoryReplay]:
    table: dict[str, CategoryReplay] = defaultdict(CategoryReplay)
    for item, decision in rows:
        model_risk = None if item.assessment_error else risks.get(item.id)
        if model_risk is None and not item.assessment_error:
            model_risk = RiskLevel(item.risk_level) if item.risk_level else None
        cell = table[item.category or "unassessed"]
        cell.items += 1
        was_auto = replay_route(item, model_risk, before) == Route.AUTO
        is_auto = replay_route(item, model_risk, after) == Route.AUTO
        cell.auto_before += was_auto
        cell.auto_after += is_auto
        if was_auto and not is_auto:
            cell.newly_review += 1
        if is_auto and not was_auto:
            cell.newly_auto += 1
            human = decision is not None and decision.actor != audit.AUTO
            outcome = "no human decision"
            if human and decision is not None:
                cell.reviewed += 1
                if decision.outcome == DecisionOutcome.REJECTED:
                    cell.rejected += 1
                    outcome = "rejected"
                elif item.edited_by:
                    cell.edited += 1
                    outcome = "approved after edit"
                else:
                    outcome = "approved unchanged"
            elif item.state == ItemState.EXPIRED:
                outcome = "expired unreviewed"
            if len(cell.examples) < EXAMPLES:
                subject = safe(masked(truncate(item.subject, 60)), 80)
                cell.examples.append(f"`{item.id}` “{subject}” ({outcome})")
    return dict(table)


def summary_lines(key: str, old: str, new: str, table: dict[str, CategoryReplay]) -> list[str]:
    if key not in ROUTING_KEYS:
        return [f"`{key}` does not change which items are auto-executed; nothing to replay."]
    total_before = sum(c.auto_before for c in table.values())
    total_after = sum(c.auto_after for c in table.values())
    items = sum(c.items for c in table.values())
    lines = [
        f"*Dry run* `{key}`: `{old}` → `{new}` over the last {DRY_RUN_DAYS} days ({items} "
        f"items): {total_after} would have been auto-executed (now {total_before})."
    ]
    for category in sorted(table, key=lambda c: (-table[c].newly_auto, c)):
        cell = table[category]
        if not (cell.newly_auto or cell.newly_review):
            continue
        parts = []
        if cell.newly_auto:
            rates = (
                f"humans rejected {cell.rejected / cell.reviewed:.0%} and edited "
                f"{cell.edited / cell.reviewed:.0%} of the {cell.reviewed} they reviewed"
                if cell.reviewed
                else "none were decided by a human"
            )
            parts.append(f"+{cell.newly_auto} auto ({rates})")
        if cell.newly_review:
            parts.append(f"{cell.newly_review} back to review")
        lines.append(f"• *{category}*: " + "; ".join(parts))
        lines.extend(f"    e.g. {example}" for example in cell.examples)
    if len(lines) == 1:
        lines.append("No item of the last 30 days would have been routed differently.")
    return lines


def _current_value(current: LeadSettings, key: str) -> str:
    values = current.thresholds.to_strings()
    values[QUORUM_AMOUNT] = str(current.quorum_amount)
    return values.get(key, "")


async def propose_change(
    sessions: SessionFactory, settings: Settings, *, key: str, raw: str, actor: str, now: datetime
) -> tuple[ThresholdChange, list[str]]:
    """Validate, replay and store a proposal; returns it with the dry run's lines."""
    try:
        new = parse_value(key, raw)
    except ValueError as exc:
        raise ThresholdChangeError(str(exc)) from None
    current = await load_lead_settings(sessions, settings)
    old = _current_value(current, key)
    if old == new:
        raise ThresholdChangeError(f"`{key}` is already `{new}`; nothing to change.")
    table: dict[str, CategoryReplay] = {}
    if key in ROUTING_KEYS:
        table = await replay(
            sessions,
            before=current.thresholds,
            after=current.thresholds.with_value(key, new),
            now=now,
        )
    lines = summary_lines(key, old, new, table)
    async with transaction(sessions) as session:
        change = ThresholdChange(
            key=key,
            old_value=old,
            new_value=new,
            status=PROPOSED,
            proposed_by=actor,
            proposed_at=now,
            dry_run={"lines": lines, "by_category": {c: r.as_dict() for c, r in table.items()}},
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
            dry_run=change.dry_run["by_category"],
        )
    return change, lines


async def _get(sessions: SessionFactory, change_id: int) -> ThresholdChange:
    async with sessions() as session:
        change = await session.get(ThresholdChange, change_id)
    if change is None:
        raise ThresholdChangeError(f"There is no threshold change #{change_id}.")
    return change


async def _set_status(
    sessions: SessionFactory, change_id: int, *, expect: str, status: str, actor: str
) -> bool:
    async with transaction(sessions) as session:
        change = await session.get(ThresholdChange, change_id)
        if change is None or change.status != expect:
            return False
        change.status, change.decided_by, change.decided_at = status, actor, utcnow()
        await session.flush()
        await audit.record(
            session,
            f"threshold_change_{status}",
            actor=actor,
            change_id=change_id,
            key=change.key,
            old=change.old_value,
            new=change.new_value,
        )
    return True


async def confirm_change(
    sessions: SessionFactory, settings: Settings, *, change_id: int, actor: str
) -> SettingChange:
    change = await _get(sessions, change_id)
    if change.status != PROPOSED:
        raise ThresholdChangeError(f"Change #{change_id} is {change.status}, not waiting.")
    current = _current_value(await load_lead_settings(sessions, settings), change.key)
    if current != change.old_value:
        raise ThresholdChangeError(
            f"`{change.key}` changed to `{current}` since this dry run; run it again."
        )
    if not await _set_status(sessions, change_id, expect=PROPOSED, status=APPLIED, actor=actor):
        raise ThresholdChangeError(f"Change #{change_id} was decided by someone else meanwhile.")
    return await change_setting(
        sessions, settings, key=change.key, raw=change.new_value, actor=actor
    )


async def cancel_change(sessions: SessionFactory, *, change_id: int, actor: str) -> None:
    change = await _get(sessions, change_id)
    if not await _set_status(sessions, change_id, expect=PROPOSED, status=CANCELLED, actor=actor):
        raise ThresholdChangeError(f"Change #{change_id} is {change.status}, not waiting.")


async def revert_change(
    sessions: SessionFactory, settings: Settings, *, change_id: int | None, actor: str
) -> tuple[ThresholdChange, SettingChange]:
    """Put back the value an applied change replaced (the latest one when no id is given)."""
    if change_id is None:
        async with sessions() as session:
            latest = (
                await session.execute(
                    select(ThresholdChange)
                    .where(col(ThresholdChange.status) == APPLIED)
                    .order_by(col(ThresholdChange.id).desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        if latest is None or latest.id is None:
            raise ThresholdChangeError("There is no applied threshold change to revert.")
        change_id = latest.id
    change = await _get(sessions, change_id)
    if change.status != APPLIED:
        raise ThresholdChangeError(f"Change #{change_id} is {change.status}; only applied ones.")
    if not await _set_status(sessions, change_id, expect=APPLIED, status=REVERTED, actor=actor):
        raise ThresholdChangeError(f"Change #{change_id} was reverted by someone else meanwhile.")
    setting = await change_setting(
        sessions, settings, key=change.key, raw=change.old_value, actor=actor
    )
    async with transaction(sessions) as session:
        record = ThresholdChange(
            key=change.key,
            old_value=change.new_value,
            new_value=change.old_value,
            status=APPLIED,
            proposed_by=actor,
            proposed_at=utcnow(),
            decided_by=actor,
            decided_at=utcnow(),
            dry_run={"lines": [f"revert of change #{change_id}"], "by_category": {}},
            reverts_id=change_id,
        )
        session.add(record)
        await session.flush()
    return record, setting


async def recent_changes(sessions: SessionFactory, limit: int = 5) -> list[ThresholdChange]:
    async with sessions() as session:
        rows = (
            await session.execute(
                select(ThresholdChange).order_by(col(ThresholdChange.id).desc()).limit(limit)
            )
        ).scalars()
        return list(rows)
