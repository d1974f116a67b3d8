"""Publishing the audit chain's head outside the database: hourly, and on demand.

Every instance's scheduler fires the job; a ``run_claim`` row per UTC hour lets one of them
publish, so N instances publish one anchor an hour. ``python -m bot audit anchor`` publishes at
once (no claim). Each anchor goes to ``SIGNOFF_AUDIT_CHANNEL`` (when set) and to
``SIGNOFF_AUDIT_ANCHOR_FILE`` (when set), and each publication is recorded in ``audit_anchor``.
Without an audit channel, the review channel's daily digest carries the anchor instead
(``bot/slack/daily_digest.py``). A failure at one target does not stop the other.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logging_setup import get_logger
from bot.settings import Settings
from bot.slack.audit_anchor_posts import post_anchor
from bot.store.audit_anchors import Anchor, append_anchor_file, chain_heads, record_published
from bot.store.database import SessionFactory, transaction
from bot.store.run_claims import claim_run

log = get_logger(__name__)

# Held past the hour, so a late instance (clock skew, misfire grace) does not publish twice.
CLAIM_HOLD = timedelta(hours=2)


@dataclass
class Published:
    anchor: Anchor | None
    targets: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def anchoring_configured(settings: Settings) -> bool:
    return bool(settings.audit_channel and settings.slack_bot_token) or bool(
        settings.audit_anchor_file
    )


async def publish_anchor(
    sessions: SessionFactory,
    settings: Settings,
    client: AsyncWebClient | None,
    *,
    now: datetime,
    by: str | None = None,
) -> Published | None:
    """Publish the chain head now. With ``by`` (the scheduler), only if this instance claims
    this hour's run; ``None`` when another instance has it."""
    if by is not None:
        hour = now.astimezone(UTC).strftime("%Y-%m-%dT%H")
        if not await claim_run(
            sessions, f"audit_anchor:{hour}", by=by, now=now, until=now + CLAIM_HOLD
        ):
            return None
    async with sessions() as session:
        anchor = await chain_heads(session)
    result = Published(anchor)
    if anchor is None:
        return result
    published: list[tuple[str, str | None]] = []
    if settings.audit_channel and client is not None:
        target = f"slack:{settings.audit_channel}"
        try:
            ts = await post_anchor(client, settings.audit_channel, anchor)
            published.append((target, ts))
        except (SlackApiError, SlackClientError) as exc:
            result.failures.append(f"{target}: {exc}")
    if settings.audit_anchor_file is not None:
        path = settings.audit_anchor_file
        try:
            await asyncio.to_thread(append_anchor_file, path, anchor)
            published.append(("file", str(path)))
        except OSError as exc:
            result.failures.append(f"file {path}: {exc}")
    if published:
        async with transaction(sessions) as session:
            for target, ref in published:
                await record_published(session, anchor, target=target, ref=ref)
    result.targets = [target for target, _ in published]
    for failure in result.failures:
        log.warning("audit anchor not published", failure=failure)
    log.info("audit anchor", row_id=anchor.row_id, count=anchor.count, targets=result.targets)
    return result
