"""Reminders, escalation and expiry of items waiting for review.

Due times live in the item row (``next_reminder_at``, ``escalate_at``, ``expires_at``); APScheduler
only triggers the sweep. Each follow-up is claimed with one conditional UPDATE on the row (e.g.
``reminders_sent = 0 → 1``), so however many instances sweep at the same moment, each reminder,
escalation and expiry happens once. The clock is a parameter so tests never sleep.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from bot.lead_settings.registry import LeadSettings
from bot.logging_setup import get_logger
from bot.review.services import ReviewServices
from bot.settings import Settings
from bot.store import audit
from bot.store.database import transaction
from bot.store.item_states import ItemState
from bot.store.items import transition, update_item
from bot.store.models import Item
from bot.store.stat_tally import Metric, count_events
from policies.away import escalation_targets, stand_ins

log = get_logger(__name__)
BATCH = 100


def review_schedule(settings: Settings, policy: LeadSettings, now: datetime) -> dict[str, Any]:
    """Due times for an item entering review now, under the leads' current follow-up times.
    They are fixed in the row here, so a later change applies to items entering review after it."""
    fractions = settings.reminder_fractions
    escalate = policy.escalate_after
    return {
        "review_started_at": now,
        "reminders_sent": 0,
        "next_reminder_at": now + escalate * fractions[0] if fractions else None,
        "escalate_at": now + escalate,
        "escalated_at": None,
        "expires_at": now + policy.expire_after,
    }


@dataclass
class FollowUpCounts:
    reminders: int = 0
    escalations: int = 0
    expiries: int = 0


async def run_follow_ups(rt: ReviewServices, now: datetime) -> FollowUpCounts:
    counts = FollowUpCounts()
    counts.expiries = await _expire(rt, now)
    counts.escalations = await _escalate(rt, now)
    counts.reminders = await _remind(rt, now)
    return counts


async def _due(rt: ReviewServices, column: Any, now: datetime, *extra: Any) -> Sequence[Item]:
    async with rt.sessions() as session:
        query = (
            select(Item)
            .where(col(Item.state) == ItemState.PENDING_REVIEW, column <= now, *extra)
            .order_by(column)
            .limit(BATCH)
        )
        return (await session.execute(query)).scalars().all()


async def _claim(rt: ReviewServices, item_id: str, guard: Any, values: dict[str, Any]) -> bool:
    async with transaction(rt.sessions) as session:
        return await update_item(
            session, item_id, col(Item.state) == ItemState.PENDING_REVIEW, guard, **values
        )


def _waiting(item: Item, now: datetime) -> str:
    started = item.review_started_at or item.created_at
    minutes = max(0, int((now - started).total_seconds() // 60))
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


async def _remind(rt: ReviewServices, now: datetime) -> int:
    if rt.publisher is None:
        return 0
    sent = 0
    fractions = rt.settings.reminder_fractions
    for item in await _due(rt, col(Item.next_reminder_at), now, col(Item.slack_ts).is_not(None)):
        number = item.reminders_sent
        started = item.review_started_at or now
        # The item's own time to escalation, as fixed when it entered review.
        span = (item.escalate_at - started) if item.escalate_at else rt.settings.escalate_after
        due_times = [started + span * f for f in fractions]
        # After downtime several reminders may be overdue: send one and skip to the next that is
        # still ahead, so the outcome does not depend on how the instances' sweeps interleave.
        handled = max(number + 1, sum(1 for due in due_times if due <= now))
        following = due_times[handled] if handled < len(due_times) else None
        if not await _claim(
            rt,
            item.id,
            col(Item.reminders_sent) == number,
            {"reminders_sent": handled, "next_reminder_at": following},
        ):
            continue
        # The card's own deciders (its route's group, else the reviewers), minus who is away,
        # plus who stands in for them.
        deciders = await rt.roster.deciders_for(item.reviewer_group)
        absences = await rt.away.absences(deciders, now)
        people = stand_ins(deciders, absences, now)
        mentions = " ".join(f"<@{u}>" for u in people) or "Reviewers"
        await rt.publisher.post_in_thread(
            item, f":alarm_clock: {mentions}: this item has been waiting {_waiting(item, now)}."
        )
        async with transaction(rt.sessions) as session:
            await audit.record(
                session,
                "reminder_sent",
                item_id=item.id,
                number=handled,
                to=people,
                away=sorted(set(deciders) & set(absences)),
            )
        sent += 1
    return sent


async def _escalate(rt: ReviewServices, now: datetime) -> int:
    done = 0
    for item in await _due(rt, col(Item.escalate_at), now, col(Item.escalated_at).is_(None)):
        if not await _claim(rt, item.id, col(Item.escalated_at).is_(None), {"escalated_at": now}):
            continue
        # Leads who are away are skipped (their delegates are told instead); when every lead
        # is away and nobody stands in, all of them are told anyway.
        targets = escalation_targets(
            rt.settings.leads, await rt.away.absences(rt.settings.leads, now), now
        )
        leads = targets.people
        if rt.publisher is not None:
            text = (
                f":rotating_light: Escalated: `{item.id}` has waited {_waiting(item, now)} "
                f"for review ({(item.risk_level or '?').upper()} risk)."
            )
            for lead in leads:
                await rt.publisher.direct_message(lead, text)
            told = (
                " Leads notified: " + " ".join(f"<@{u}>" for u in leads)
                if leads
                else " No leads are configured (SIGNOFF_LEADS)."
            )
            note = f" {targets.note}" if targets.note else ""
            await rt.publisher.post_in_thread(item, text + told + note)
        async with transaction(rt.sessions) as session:
            await audit.record(
                session, "escalated", item_id=item.id, leads=leads, note=targets.note
            )
        done += 1
    return done


async def _expire(rt: ReviewServices, now: datetime) -> int:
    done = 0
    keep_waiting = rt.settings.expiry_action == "keep_waiting"
    for item in await _due(rt, col(Item.expires_at), now):
        if keep_waiting:
            if not await _claim(
                rt, item.id, col(Item.expires_at).is_not(None), {"expires_at": None}
            ):
                continue
            event = "expiry_passed_keep_waiting"
            async with transaction(rt.sessions) as session:
                await audit.record(session, event, item_id=item.id)
            if rt.publisher is not None:
                await rt.publisher.post_in_thread(
                    item, ":hourglass: The review deadline has passed; this item keeps waiting."
                )
        else:
            async with transaction(rt.sessions) as session:
                if not await transition(
                    session,
                    item.id,
                    from_states=[ItemState.PENDING_REVIEW],
                    to=ItemState.EXPIRED,
                    decided_at=now,
                ):
                    continue
                await audit.record(
                    session,
                    "expired",
                    item_id=item.id,
                    waited=_waiting(item, now),
                )
                await count_events(session, now, [Metric.EXPIRED], category=item.category)
            if rt.publisher is not None:
                async with rt.sessions() as session:
                    expired = await session.get(Item, item.id)
                if expired is not None:
                    await rt.publisher.refresh_card(expired)
        done += 1
    return done
