"""The weekly picture for leads: a DM to each lead with the week's chart and numbers.

The scheduler asks every minute; when the lead-set time (``weekly_report_at``, seeded from
``SIGNOFF_WEEKLY_REPORT_AT``) has passed within the last hour, the first instance to claim
``weekly_report:<due moment>`` in ``run_claim`` sends it and the others stand down, so N
instances send one report, and moving the time never sends a week twice (same due moment, same
key) or skips the new time (a new moment, a new key).

The PNG goes up with Slack's files API (``files.getUploadURLExternal``, the upload, then
``files.completeUploadExternal`` into the lead's DM, with the numbers as the initial comment):
slack_sdk's ``files_upload_v2`` does all three (the retired ``files.upload`` is not used).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.lead_settings.cache import stored_settings
from bot.lead_settings.registry import WEEKLY_REPORT_AT, defaults
from bot.logging_setup import get_logger
from bot.runtime import Runtime
from bot.stats.weekly_report import charts_installed, render_chart, weekly_figures
from bot.store.run_claims import claim_run
from policies.weekly_schedule import weekly_time_or_off

log = get_logger(__name__)

# A run delayed by a busy or restarting instance still goes out within this.
GRACE = timedelta(hours=1)
# Held past the next week's run so a late instance cannot resend.
CLAIM_HOLD = timedelta(days=8)
WEEK = timedelta(days=7)


async def due_moment(rt: Runtime, now: datetime) -> datetime | None:
    """The scheduled moment the report is due for now, or ``None`` (off, or not in the grace)."""
    values = defaults(rt.settings)
    values.update(await stored_settings(rt.sessions))
    try:
        when = weekly_time_or_off(values.get(WEEKLY_REPORT_AT, ""))
    except ValueError:
        when = weekly_time_or_off(rt.settings.weekly_report_at)
    if when is None:
        return None
    moment = when.last_due(now)
    return moment if now - moment <= GRACE else None


async def send_weekly_report(rt: Runtime, now: datetime, *, by: str, force: bool = False) -> int:
    """Send the report if it is due (``force``: now, for the week before ``now``); returns how
    many leads got it."""
    publisher = rt.publisher
    if publisher is None or not rt.settings.leads:
        return 0
    moment = now if force else await due_moment(rt, now)
    if moment is None:
        return 0
    key = f"weekly_report:{moment:%Y-%m-%dT%H:%M}"
    if not await claim_run(rt.sessions, key, by=by, now=now, until=now + CLAIM_HOLD):
        return 0
    figures = await weekly_figures(rt.sessions, moment - WEEK)
    png = await asyncio.to_thread(render_chart, figures) if charts_installed() else None
    comment = "\n".join(figures.lines())
    if png is None:
        comment += "\n_(No chart: install `signoff[charts]` on the workers to get one.)_"
    sent = 0
    for lead in sorted(rt.settings.leads):
        try:
            opened = await publisher.client.conversations_open(users=lead)
            channel = str(opened["channel"]["id"])
            if png is None:
                await publisher.client.chat_postMessage(channel=channel, text=comment)
            else:
                await publisher.client.files_upload_v2(
                    channel=channel,
                    file=png,
                    filename=f"signoff-week-{moment:%Y-%m-%d}.png",
                    title=f"Signoff: the week to {moment:%d %b %Y}",
                    initial_comment=comment,
                )
        except (SlackApiError, SlackClientError) as exc:
            log.warning("weekly report failed", lead=lead, error=str(exc))
            continue
        sent += 1
    log.info("weekly report sent", leads=sent, categories=len(figures.categories))
    return sent
