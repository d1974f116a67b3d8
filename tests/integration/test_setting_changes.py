"""Every lead-set value is one registry and one change path: what runs without a human waits for
a dry run and a confirm, the rest applies at once, every change is recorded and revertible, and
two leads acting at once never silently overwrite each other."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.durations import format_duration
from bot.errors import SettingChangeRefusedError
from bot.lead_settings.changes import (
    APPLIED,
    REVERTED,
    apply_now,
    confirm_change,
    propose_change,
    recent_changes,
    revert_change,
)
from bot.lead_settings.registry import (
    ChangeKind,
    canonical_key,
    change_kind,
    load_lead_settings,
    parse_duration,
)
from bot.review.reminders import review_schedule
from bot.runtime import Runtime, open_runtime
from bot.store.column_types import utcnow
from bot.store.database import transaction
from bot.store.models import AuditEvent, AutonomyOutcome
from policies.risk_levels import RiskLevel
from tests.support.server_harness import LEAD, make_settings

OTHER_LEAD = "U0LEAD2"


@pytest.fixture
async def rt(database_url: str) -> AsyncIterator[Runtime]:
    settings = make_settings(database_url=database_url, leads=f"{LEAD},{OTHER_LEAD}")
    async with open_runtime(settings) as runtime:
        yield runtime


def test_words_a_lead_types_name_one_setting() -> None:
    assert canonical_key("risk.password_reset") == "auto_approve_max_risk.password_reset"
    assert canonical_key("Auto-Approve-Max-Risk.billing") == "auto_approve_max_risk.billing"
    assert canonical_key("escalation") == "escalate_after"
    assert canonical_key("target") == "autonomy_target"
    assert canonical_key("quorum.billing") is None
    assert canonical_key("risk.Not A Category") is None
    assert change_kind("auto_approve_max_risk.billing") == ChangeKind.ROUTING
    assert change_kind("autonomy_sample") == ChangeKind.AUTONOMY
    assert change_kind("quorum_amount") == ChangeKind.DIRECT
    assert change_kind("expire_after") == ChangeKind.DIRECT


@pytest.mark.parametrize(
    ("raw", "seconds"), [("90m", 5400), ("2h", 7200), ("1h30m", 5400), ("3d", 259200), ("600", 600)]
)
def test_durations_read_as_people_write_them(raw: str, seconds: int) -> None:
    value = parse_duration("escalate_after", raw)
    assert value == timedelta(seconds=seconds)
    assert parse_duration("escalate_after", format_duration(value)) == value


@pytest.mark.parametrize("raw", ["soon", "30s", "31d", "", "2 hours"])
def test_bad_durations_are_explained(raw: str) -> None:
    with pytest.raises(SettingChangeRefusedError, match="escalate_after must be"):
        parse_duration("escalate_after", raw)


async def test_a_category_threshold_waits_for_its_dry_run_then_routes(rt: Runtime) -> None:
    key = "auto_approve_max_risk.password_reset"
    change, lines = await propose_change(
        rt.sessions, rt.settings, key=key, raw="medium", actor=LEAD, now=utcnow()
    )
    assert lines[0].startswith(f"*Dry run* `{key}`: `` → `medium`")
    before = await load_lead_settings(rt.sessions, rt.settings)
    assert before.thresholds.max_risk_for("password_reset") == RiskLevel.LOW
    assert change.id is not None
    await confirm_change(rt.sessions, rt.settings, change_id=change.id, actor=OTHER_LEAD)
    after = await load_lead_settings(rt.sessions, rt.settings)
    assert after.thresholds.max_risk_for("password_reset") == RiskLevel.MEDIUM
    assert after.thresholds.max_risk_for("billing") == RiskLevel.LOW
    assert f"{key} = medium" in after.as_lines()


async def test_follow_up_times_apply_at_once_to_items_entering_review_and_revert(
    rt: Runtime,
) -> None:
    change = await apply_now(rt.sessions, rt.settings, key="escalate_after", raw="30m", actor=LEAD)
    assert (change.old, change.new) == ("2h", "30m")
    policy = await load_lead_settings(rt.sessions, rt.settings)
    now = utcnow()
    due = review_schedule(rt.settings, policy, now)
    assert due["escalate_at"] == now + timedelta(minutes=30)
    assert due["next_reminder_at"] == now + timedelta(minutes=15)  # 50% of the way
    assert due["expires_at"] == now + timedelta(hours=24)
    with pytest.raises(SettingChangeRefusedError, match="must be longer than escalate_after"):
        await apply_now(rt.sessions, rt.settings, key="expire_after", raw="20m", actor=LEAD)
    [record, *_] = await recent_changes(rt.sessions)
    assert (record.key, record.status) == ("escalate_after", APPLIED)
    _, setting = await revert_change(rt.sessions, rt.settings, change_id=None, actor=OTHER_LEAD)
    assert (setting.old, setting.new) == ("30m", "2h")
    reverted = await load_lead_settings(rt.sessions, rt.settings)
    assert reverted.escalate_after == timedelta(hours=2)


async def test_reverting_an_older_change_over_a_newer_one_is_refused(rt: Runtime) -> None:
    await apply_now(rt.sessions, rt.settings, key="quorum_amount", raw="800", actor=LEAD)
    await apply_now(rt.sessions, rt.settings, key="quorum_amount", raw="900", actor=OTHER_LEAD)
    newer, older = await recent_changes(rt.sessions, limit=2)
    assert older.id is not None and newer.id is not None
    with pytest.raises(SettingChangeRefusedError, match="revert that one first"):
        await revert_change(rt.sessions, rt.settings, change_id=older.id, actor=LEAD)
    # Nothing moved: the older change is still applied and the value is the newer one.
    assert (await load_lead_settings(rt.sessions, rt.settings)).quorum_amount == 900
    statuses = {c.id: c.status for c in await recent_changes(rt.sessions)}
    assert statuses[older.id] == APPLIED
    await revert_change(rt.sessions, rt.settings, change_id=newer.id, actor=LEAD)
    await revert_change(rt.sessions, rt.settings, change_id=older.id, actor=LEAD)
    assert (await load_lead_settings(rt.sessions, rt.settings)).quorum_amount == 500
    statuses = {c.id: c.status for c in await recent_changes(rt.sessions, limit=10)}
    assert statuses[older.id] == statuses[newer.id] == REVERTED


async def test_a_confirm_against_a_value_changed_since_the_dry_run_is_refused(
    rt: Runtime,
) -> None:
    first, _ = await propose_change(
        rt.sessions, rt.settings, key="refund_auto_limit", raw="75", actor=LEAD, now=utcnow()
    )
    second, _ = await propose_change(
        rt.sessions, rt.settings, key="refund_auto_limit", raw="20", actor=OTHER_LEAD, now=utcnow()
    )
    assert first.id is not None and second.id is not None
    await confirm_change(rt.sessions, rt.settings, change_id=second.id, actor=OTHER_LEAD)
    with pytest.raises(SettingChangeRefusedError, match="since this dry run; run it again"):
        await confirm_change(rt.sessions, rt.settings, change_id=first.id, actor=LEAD)
    current = await load_lead_settings(rt.sessions, rt.settings)
    assert str(current.thresholds.refund_auto_limit) == "20"
    statuses = {c.id: c.status for c in await recent_changes(rt.sessions)}
    assert statuses[first.id] == "proposed"  # the refused confirm rolled back with its write
    async with rt.sessions() as session:
        changed = (
            await session.execute(
                select(col(AuditEvent.detail)).where(col(AuditEvent.event) == "setting_changed")
            )
        ).scalars()
        assert [(d["key"], d["old"], d["new"]) for d in changed] == [
            ("refund_auto_limit", "50", "20")
        ]


async def test_an_autonomy_change_is_replayed_over_the_buckets(rt: Runtime) -> None:
    change, lines = await propose_change(
        rt.sessions, rt.settings, key="autonomy_target", raw="0.5", actor=LEAD, now=utcnow()
    )
    assert lines[0].startswith("*Dry run* `autonomy_target`: `0.95` → `0.5`")
    assert "No kind of work would be trusted differently." in lines
    assert change.dry_run["buckets"] == {
        "trusted_before": {},
        "trusted_after": {},
        "sample_before": 0.05,
        "sample_after": 0.05,
    }


async def test_lowering_the_reviews_needed_names_the_buckets_that_would_earn_trust(
    database_url: str,
) -> None:
    settings = make_settings(database_url=database_url, leads=LEAD, autonomy_target=0.5)
    async with open_runtime(settings) as runtime:
        async with transaction(runtime.sessions) as session:
            for n in range(5):
                session.add(
                    AutonomyOutcome(
                        item_id=f"itm_{n}",
                        bucket="billing/reply/low",
                        outcome="approved_unchanged",
                        material=False,
                        source="review",
                        actor=LEAD,
                        at=utcnow(),
                    )
                )
        _, lines = await propose_change(
            runtime.sessions,
            runtime.settings,
            key="autonomy_min_reviews",
            raw="3",
            actor=LEAD,
            now=utcnow(),
        )
    assert lines[0].startswith("*Dry run* `autonomy_min_reviews`: `20` → `3`: 1 kind of work")
    assert any(
        line.startswith("• `billing/reply/low` would earn trust: 5 of 5 reviews unchanged")
        for line in lines
    )


async def test_leads_choose_how_many_approvers_a_large_refund_needs(rt: Runtime) -> None:
    assert (await load_lead_settings(rt.sessions, rt.settings)).quorum_approvers == 2
    await apply_now(rt.sessions, rt.settings, key="quorum_approvers", raw="3", actor=LEAD)
    assert (await load_lead_settings(rt.sessions, rt.settings)).quorum_approvers == 3
    with pytest.raises(SettingChangeRefusedError, match="from 2 to 5"):
        await apply_now(rt.sessions, rt.settings, key="quorum_approvers", raw="6", actor=LEAD)
