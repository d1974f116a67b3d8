"""Dry runs: what a change to a lead's setting would have done over the last 30 days.

Before a lead loosens (or tightens) a routing threshold, Signoff replays the last 30 days of items
through the thresholds policy with the new value: how many items would have been auto-executed,
by category, which of them humans actually reviewed and how often they rejected or edited them,
and a few examples. The replay uses each item's model risk as assessed at the time (from its
``assessed`` audit row) and the rule floor recomputed under the new value, exactly as
``bot.pipeline.route_step`` would.

A change to an autonomy setting (target, minimum reviews, sample share) is replayed over the
buckets instead: which kinds of work would earn or lose trust, and how many of their items of
the last 30 days would have run without a human. ``bot.lead_settings.changes`` keeps the proposals.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from bot.assess.pii_masking import masked
from bot.assess.policy_facts import facts_of
from bot.lead_settings.registry import ChangeKind, change_kind
from bot.slack.text import safe, truncate
from bot.store import audit
from bot.store.autonomy_buckets import known_buckets, load_bucket_state
from bot.store.database import SessionFactory
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.models import AuditEvent, Decision, Item
from policies.autonomy import AutonomyPolicy
from policies.money_budget import MoneyLedger, customer_key
from policies.risk_levels import RiskLevel
from policies.risk_rules import MONEY_ACTIONS, risk_floor
from policies.routing import Route, decide_route
from policies.thresholds import Thresholds

DRY_RUN_DAYS = 30
EXAMPLES = 3


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


def replay_route(
    item: Item,
    model_risk: RiskLevel | None,
    thresholds: Thresholds,
    ledger: MoneyLedger | None = None,
) -> Route:
    """The route ``bot.pipeline.route_step`` would have taken for ``item`` under ``thresholds``;
    with a ``ledger`` (items replayed oldest first), money that would pass a budget goes to
    review."""
    facts = facts_of(item, item.ai_action or item.proposed_action)
    floor = risk_floor(facts, thresholds)
    route = decide_route(
        facts=facts, floor=floor, model_risk=model_risk, thresholds=thresholds
    ).route
    if route == Route.AUTO and ledger is not None and facts.action_kind in MONEY_ACTIONS:
        customer = customer_key(item.customer_email)
        amount = facts.amount or Decimal(0)
        if ledger.try_reserve(customer, amount, item.created_at, thresholds) is not None:
            return Route.REVIEW
    return route


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
    # Oldest first, so each replayed budget fills up the way it would have.
    ledgers = MoneyLedger(), MoneyLedger()
    for item, decision in sorted(rows, key=lambda row: row[0].created_at):
        model_risk = None if item.assessment_error else risks.get(item.id)
        if model_risk is None and not item.assessment_error:
            model_risk = RiskLevel(item.risk_level) if item.risk_level else None
        cell = table[item.category or "unassessed"]
        cell.items += 1
        was_auto = replay_route(item, model_risk, before, ledgers[0]) == Route.AUTO
        is_auto = replay_route(item, model_risk, after, ledgers[1]) == Route.AUTO
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
    if change_kind(key) != ChangeKind.ROUTING:
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


@dataclass
class BucketReplay:
    """Which buckets a change to the autonomy settings would trust or stop trusting, with their
    items of the last 30 days (what would start or stop running without a human)."""

    trusted_before: dict[str, int] = field(default_factory=dict)
    trusted_after: dict[str, int] = field(default_factory=dict)
    sample_before: float = 0.0
    sample_after: float = 0.0
    evidence: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "trusted_before": self.trusted_before,
            "trusted_after": self.trusted_after,
            "sample_before": self.sample_before,
            "sample_after": self.sample_after,
        }

    def _auto_items(self, trusted: dict[str, int], share: float) -> int:
        return round(sum(trusted.values()) * (1 - share))

    def lines(self, key: str, old: str, new: str) -> list[str]:
        gained = sorted(set(self.trusted_after) - set(self.trusted_before))
        lost = sorted(set(self.trusted_before) - set(self.trusted_after))
        before = self._auto_items(self.trusted_before, self.sample_before)
        after = self._auto_items(self.trusted_after, self.sample_after)
        lines = [
            f"*Dry run* `{key}`: `{old}` → `{new}`: {_kinds(len(self.trusted_after))} of work "
            f"would be trusted (now {len(self.trusted_before)}); of their items of the last "
            f"{DRY_RUN_DAYS} days about {after} would have run without a human (now {before})."
        ]
        for label, keys in (("would earn trust", gained), ("would lose trust", lost)):
            for bucket in keys[: EXAMPLES * 3]:
                items = self.trusted_after.get(bucket, self.trusted_before.get(bucket, 0))
                lines.append(f"• `{bucket}` {label}: {self.evidence[bucket]}; {items} items")
            if len(keys) > EXAMPLES * 3:
                lines.append(f"  …and {len(keys) - EXAMPLES * 3} more that {label}.")
        if not gained and not lost and before == after:
            lines.append("No kind of work would be trusted differently.")
        return lines


def _kinds(count: int) -> str:
    return f"{count} kind" if count == 1 else f"{count} kinds"


async def replay_autonomy(
    sessions: SessionFactory,
    *,
    before: AutonomyPolicy,
    after: AutonomyPolicy,
    now: datetime,
    days: int = DRY_RUN_DAYS,
) -> BucketReplay:
    since = now - timedelta(days=days)
    result = BucketReplay(sample_before=before.sample_share, sample_after=after.sample_share)
    keys = await known_buckets(sessions)
    async with sessions() as session:
        rows = await session.execute(
            select(col(Item.autonomy_bucket), func.count())
            .where(col(Item.autonomy_bucket).is_not(None), col(Item.created_at) >= since)
            .group_by(col(Item.autonomy_bucket))
        )
        recent = {str(bucket): int(count) for bucket, count in rows.tuples()}
        for key in keys:
            old_state = await load_bucket_state(session, key, before)
            new_state = await load_bucket_state(session, key, after)
            items = recent.get(key, 0)
            if old_state.trusted(before):
                result.trusted_before[key] = items
            if new_state.trusted(after):
                result.trusted_after[key] = items
            ev = new_state.evidence
            result.evidence[key] = (
                f"{ev.approved_unchanged} of {ev.reviews} reviews unchanged, bound "
                f"{ev.lower_bound:.3f}"
            )
    return result
