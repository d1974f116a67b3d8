"""The cluster card: one message offering *Approve all N* for near-identical waiting items.

It is posted **alongside** the items' own cards, never instead of them: each item keeps its card
(posted when it entered review, before any cluster could form) with Edit, Request changes, Reject
and Reveal, each card still shows the truth after *Approve all* (each is refreshed), and what
*Approve all* could not approve (a second approver still needed, a stale or edited draft, the
reviewer's own request) is decided there, as the cluster card says item by item. Texts are
masked and escaped like every card's; the list is cut to Block Kit's limits.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.assess.pii_masking import masked
from bot.logging_setup import get_logger
from bot.review.cluster_approval import (
    APPROVED,
    ONE_BY_ONE,
    ClusterReport,
    form_clusters,
    record_card,
)
from bot.runtime import Runtime
from bot.slack.text import safe, truncate
from bot.store.column_types import utcnow
from bot.store.models import ReviewCluster

log = get_logger(__name__)

CLUSTER_APPROVE_ACTION = "signoff_cluster_approve"
CLUSTER_ONE_BY_ONE_ACTION = "signoff_cluster_one_by_one"
_LIST_LIMIT = 2900


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}}


def _lines(pairs: list[tuple[str, str]], limit: int) -> str:
    return truncate("\n".join(f"• `{i}`: {safe(masked(why), 300)}" for i, why in pairs), limit)


def render_cluster(cluster: ReviewCluster) -> list[dict[str, Any]]:
    count = len(cluster.members)
    ids = ", ".join(f"`{m['id']}`" for m in cluster.members)
    blocks: list[dict[str, Any]] = [
        _section(
            f":package: *{safe(cluster.summary, 500)}* — bucket `{safe(cluster.bucket, 120)}`\n"
            "Each item keeps its own card above; *Approve all* approves each one separately "
            "(quorum, four eyes, stale drafts and expiry are checked per item)."
        ),
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": truncate(f"Items: {ids}", _LIST_LIMIT)}],
        },
    ]
    if cluster.status == ONE_BY_ONE:
        blocks.append(_section(f":mag: <@{cluster.decided_by}> chose to review these one by one."))
        return blocks
    if cluster.status == APPROVED:
        blocks.extend(_report(cluster))
    blocks.append(
        {
            "type": "actions",
            "block_id": f"cluster:{cluster.id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": CLUSTER_APPROVE_ACTION,
                    "style": "primary",
                    "text": {"type": "plain_text", "text": f"Approve all {count}"},
                    "value": cluster.id,
                    "confirm": {
                        "title": {"type": "plain_text", "text": f"Approve all {count}?"},
                        "text": {
                            "type": "plain_text",
                            "text": truncate(
                                f"Approves each of the {count} items as you: {cluster.summary}. "
                                "Items you may not approve, or that need a second approver, are "
                                "listed afterwards.",
                                300,
                            ),
                        },
                        "confirm": {"type": "plain_text", "text": "Approve all"},
                        "deny": {"type": "plain_text", "text": "Cancel"},
                    },
                },
                {
                    "type": "button",
                    "action_id": CLUSTER_ONE_BY_ONE_ACTION,
                    "text": {"type": "plain_text", "text": "Review one by one"},
                    "value": cluster.id,
                },
            ],
        }
    )
    return blocks


def _report(cluster: ReviewCluster) -> list[dict[str, Any]]:
    report = ClusterReport.from_record(cluster.report)
    blocks = [
        _section(
            f":white_check_mark: <@{cluster.decided_by}> pressed *Approve all*: "
            f"*{len(report.approved)} approved* (each with its own decision and key), "
            f"{len(report.waiting)} still need another approver, {len(report.refused)} refused."
        )
    ]
    if report.waiting:
        blocks.append(_section("*Still waiting:*\n" + _lines(report.waiting, 2800)))
    if report.refused:
        blocks.append(_section("*Not approved:*\n" + _lines(report.refused, 2800)))
    return blocks


def cluster_text(cluster: ReviewCluster) -> str:
    return safe(f"Approve all? {cluster.summary}", 300)


async def post_clusters(rt: Runtime, *, min_size: int) -> int:
    """Form clusters of the waiting items and post a card for each; returns how many."""
    publisher = rt.publisher
    if publisher is None or min_size < 2:
        return 0
    posted = 0
    for cluster in await form_clusters(rt.sessions, min_size=min_size, now=utcnow()):
        try:
            response = await publisher.client.chat_postMessage(
                channel=cluster.slack_channel,
                text=cluster_text(cluster),
                blocks=render_cluster(cluster),
                unfurl_links=False,
                unfurl_media=False,
            )
        except (SlackApiError, SlackClientError) as exc:
            # The items keep their own cards; they are simply not offered together this time.
            log.warning("cluster card failed", cluster_id=cluster.id, error=str(exc))
            continue
        await record_card(rt.sessions, cluster.id, str(response["channel"]), str(response["ts"]))
        posted += 1
    return posted


async def refresh_cluster(rt: Runtime, cluster: ReviewCluster) -> None:
    if rt.publisher is None or not cluster.slack_ts:
        return
    try:
        await rt.publisher.client.chat_update(
            channel=cluster.slack_channel,
            ts=cluster.slack_ts,
            text=cluster_text(cluster),
            blocks=render_cluster(cluster),
        )
    except (SlackApiError, SlackClientError) as exc:
        log.warning("cluster card update failed", cluster_id=cluster.id, error=str(exc))
