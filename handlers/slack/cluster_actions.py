"""Cluster card buttons: *Approve all N* and *Review one by one*.

*Approve all* runs after the ack from the interaction inbox like every click: each member is
approved through the normal approve path (``bot.review.cluster_approval``), each member's own
card is re-rendered, the cluster card reports what was approved, what waits for another approver
and what was refused and why, and the clicker gets the same summary privately. Clicking it again
(a second approver completing quorums) does the same: an item already approved by the clicker is
simply reported as such.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.logging_setup import get_logger
from bot.review.cluster_approval import (
    ONE_BY_ONE,
    approve_cluster,
    close_one_by_one,
    get_cluster,
)
from bot.slack.card_updates import refresh
from bot.slack.cluster_card import (
    CLUSTER_APPROVE_ACTION,
    CLUSTER_ONE_BY_ONE_ACTION,
    refresh_cluster,
)
from bot.store.items import get_item
from handlers.slack.deps import SlackDeps, on_click
from handlers.slack.replies import clicked_channel, tell

log = get_logger(__name__)


def _click(body: dict[str, Any]) -> tuple[str, str, str | None]:
    return (
        str(body["user"]["id"]),
        str(body["actions"][0].get("value") or ""),
        clicked_channel(body),
    )


def register_cluster_actions(app: AsyncApp, deps: SlackDeps) -> None:
    rt = deps.rt

    async def approve_all_work(body: dict[str, Any], client: AsyncWebClient) -> str:
        user, cluster_id, channel = _click(body)
        cluster = await get_cluster(rt.sessions, cluster_id)
        if cluster is None or cluster.status == ONE_BY_ONE:
            await tell(
                client,
                user=user,
                channel=channel,
                text="This cluster is closed: approve the items on their own cards. "
                "Nothing was changed.",
            )
            return "closed"
        roles = await deps.roles(user)
        report = await approve_cluster(
            rt.sessions, cluster=cluster, roles=roles, policy=await deps.policy()
        )
        log.info(
            "approve all",
            cluster_id=cluster_id,
            user=user,
            approved=len(report.approved),
            waiting=len(report.waiting),
            refused=len(report.refused),
        )
        if report.approved:
            deps.notify_worker()
        for member in cluster.members:
            await refresh(rt, await get_item(rt.sessions, str(member["id"])))
        updated = await get_cluster(rt.sessions, cluster_id)
        if updated is not None:
            await refresh_cluster(rt, updated)
        await tell(
            client,
            user=user,
            channel=channel,
            text=f"Approve all: {len(report.approved)} approved, {len(report.waiting)} still "
            f"need another approver, {len(report.refused)} not approved (see the cluster card).",
        )
        return f"approved {len(report.approved)} of {len(cluster.members)}"

    on_click(app, CLUSTER_APPROVE_ACTION, approve_all_work, deps.inbox)

    async def one_by_one_work(body: dict[str, Any], client: AsyncWebClient) -> None:
        user, cluster_id, channel = _click(body)
        roles = await deps.roles(user)
        if not roles.may_decide:
            await tell(
                client, user=user, channel=channel, text="Only reviewers and leads can decide."
            )
            return
        if await close_one_by_one(rt.sessions, cluster_id=cluster_id, user=user):
            cluster = await get_cluster(rt.sessions, cluster_id)
            if cluster is not None:
                await refresh_cluster(rt, cluster)

    on_click(app, CLUSTER_ONE_BY_ONE_ACTION, one_by_one_work, deps.inbox)
