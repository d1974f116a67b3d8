"""The weekly picture for leads: at the lead-set time one instance DMs each lead a PNG through
Slack's files API (get upload URL, upload, complete), with the week's numbers per category, and
those numbers are ``/signoff stats``'s."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from bot.lead_settings.registry import load_lead_settings
from bot.lead_settings.seed import seed_thresholds
from bot.pipeline.worker import Worker
from bot.review.approve import approve
from bot.review.edit import save_edit
from bot.review.reject import reject
from bot.review.roster import Roles
from bot.runtime import open_runtime
from bot.slack.weekly_report import due_moment, send_weekly_report
from bot.stats.review_stats import review_stats
from bot.stats.weekly_report import weekly_figures
from bot.store.column_types import utcnow
from bot.store.ingest import ingest
from bot.store.items import get_item
from bot.tickets import TicketIn
from policies.reject_reasons import RejectReason
from policies.weekly_schedule import WeeklyTime
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import LEAD, REVIEWER, slack_settings
from tests.support.ticket_factory import password_ticket, refund_ticket

SECOND_LEAD = "U0LEAD2"


async def test_the_weekly_report_dms_each_lead_a_png_with_the_stats_numbers(
    database_url: str, slack: FakeSlack
) -> None:
    now = utcnow()
    due = now - timedelta(minutes=5)
    settings = slack_settings(
        database_url,
        slack,
        reviewers=REVIEWER,
        leads=f"{LEAD},{SECOND_LEAD}",
        slack_posts_per_second=50,
        weekly_report_at=str(WeeklyTime(due.weekday(), due.hour, due.minute)),
    )
    async with open_runtime(settings) as rt, open_runtime(settings) as other:
        await seed_thresholds(rt.sessions, settings)
        ids = []
        for ticket in [refund_ticket("480.00") for _ in range(3)] + [password_ticket()] * 0:
            ids.append(
                (await ingest(rt.sessions, "generic", TicketIn.model_validate(ticket))).item_id
            )
        for _ in range(2):
            await ingest(rt.sessions, "generic", TicketIn.model_validate(password_ticket()))
        await Worker(rt).drain()
        roles = Roles(user_id=REVIEWER, reviewers=frozenset({REVIEWER}), leads=frozenset({LEAD}))
        policy = await load_lead_settings(rt.sessions, settings)
        await approve(rt.sessions, item_id=ids[0], roles=roles, policy=policy)
        await reject(
            rt.sessions, item_id=ids[1], roles=roles, reason=RejectReason.WRONG_FACTS, detail="x"
        )
        edited = await get_item(rt.sessions, ids[2])
        assert edited is not None
        await save_edit(
            rt.sessions,
            item_id=ids[2],
            roles=roles,
            policy=policy,
            version=edited.draft_version,
            reply="Edited reply",
            action={"kind": "refund", "amount": str(Decimal("400.00")), "currency": "USD"},
            summary="refund → 400.00",
        )

        assert await due_moment(rt, now) is not None
        # Two instances fire together: one report per lead.
        sent = [
            await send_weekly_report(rt, now, by="first"),
            await send_weekly_report(other, now, by="second"),
        ]
        assert sorted(sent) == [0, 2]
        assert await send_weekly_report(rt, now + timedelta(minutes=1), by="first") == 0

        figures = await weekly_figures(
            rt.sessions, (await due_moment(rt, now) or now) - timedelta(days=7)
        )
        stats = await review_stats(rt.sessions, figures.since, "week")

    files = slack.files
    assert len(files) == 2
    assert {f["shared"]["channel_id"] for f in files.values()} == {f"D{LEAD}", f"D{SECOND_LEAD}"}
    for upload in files.values():
        assert upload["content"][:8] == b"\x89PNG\r\n\x1a\n"
        assert len(upload["content"]) == upload["length"]
        comment = upload["shared"]["initial_comment"]
        assert (
            f"Items {stats.received} · auto-executed {stats.auto} · approved unchanged "
            f"{stats.approved} · edited {stats.approved_after_edit} · rejected {stats.rejected}"
        ) in comment
    # The numbers: the same as /signoff stats, and what happened.
    assert (stats.received, stats.approved, stats.approved_after_edit, stats.rejected) == (
        5,
        1,
        1,
        1,
    )
    assert figures.total(0) == stats.received and figures.total(1) == stats.auto
    assert figures.median_wait_minutes == stats.median_minutes
    assert [m for m in (c.method for c in slack.calls()) if m.startswith("files.")] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ] * 2
