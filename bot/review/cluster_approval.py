"""Cluster cards' state: forming clusters of waiting items, and *Approve all* item by item.

Forming: the waiting items that have a card, are not stale and are on no cluster yet are grouped
(``bot.review.clusters``, a pure function); each cluster is written with its members, and the
members are marked with one conditional UPDATE, in one transaction, so two instances forming at
once never put an item on two cluster cards (the loser's row count is short: it rolls back).

*Approve all* is not a decision of its own: it calls :func:`bot.review.approve.approve` for each
member, at the draft version the cluster card showed. So quorum, four eyes, stale drafts,
expiry and edits made since the card was posted are checked per item, and each approved item
gets its own decision row, audit entry and idempotency key, exactly as if it had been clicked
on its own card. The outcome per item is kept on the cluster row for the card to report.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlmodel import col

from bot.lead_settings.registry import LeadSettings
from bot.review.approve import approve
from bot.review.clusters import ClusterCandidate, group_clusters
from bot.review.result import ReviewStatus
from bot.review.roster import Roles
from bot.store import audit
from bot.store.column_types import utcnow
from bot.store.database import SessionFactory, transaction
from bot.store.item_states import ItemState
from bot.store.models import Item, ReviewCluster

OPEN = "open"
APPROVED = "approved"
ONE_BY_ONE = "one_by_one"
# Waiting items looked at per pass (oldest first); more wait for the next pass.
CANDIDATE_LIMIT = 2000


_COLUMNS = (
    col(Item.id),
    col(Item.draft_version),
    col(Item.slack_channel),
    col(Item.autonomy_bucket),
    col(Item.proposed_action),
    col(Item.category),
    col(Item.customer_email),
    col(Item.draft_reply),
)


def _candidate(row: Any) -> ClusterCandidate:
    action = row.proposed_action or {"kind": "reply"}
    amount = action.get("amount")
    return ClusterCandidate(
        item_id=row.id,
        version=row.draft_version,
        channel=row.slack_channel or "",
        bucket=row.autonomy_bucket or "",
        action_kind=str(action.get("kind", "reply")),
        amount=Decimal(str(amount)) if amount is not None else None,
        currency=str(action["currency"]) if action.get("currency") else None,
        category=row.category or "unknown",
        customer=row.customer_email,
        draft=row.draft_reply or "",
    )


async def form_clusters(
    sessions: SessionFactory, *, min_size: int, now: datetime
) -> list[ReviewCluster]:
    """New cluster rows for the waiting items that group (their cards are not posted yet)."""
    if min_size < 2:
        return []
    async with sessions() as session:
        rows = (
            await session.execute(
                select(*_COLUMNS)
                .where(
                    col(Item.state) == ItemState.PENDING_REVIEW,
                    col(Item.slack_ts).is_not(None),
                    col(Item.cluster_id).is_(None),
                    col(Item.stale_reason).is_(None),
                    col(Item.autonomy_bucket).is_not(None),
                )
                .order_by(col(Item.created_at), col(Item.id))
                .limit(CANDIDATE_LIMIT)
            )
        ).all()
    candidates = [_candidate(row) for row in rows]
    # Text similarity over a few thousand drafts is CPU work: off the event loop.
    clusters = await asyncio.to_thread(group_clusters, candidates, min_size=min_size)
    formed: list[ReviewCluster] = []
    for cluster in clusters:
        row = ReviewCluster(
            id=f"cl_{uuid.uuid4().hex[:20]}",
            bucket=cluster.bucket,
            summary=cluster.summary(),
            members=[{"id": m.item_id, "version": m.version} for m in cluster.members],
            slack_channel=cluster.channel,
            status=OPEN,
            created_at=now,
        )
        ids = [m.item_id for m in cluster.members]
        async with transaction(sessions) as session:
            marked = cast(
                CursorResult[Any],
                await session.execute(
                    update(Item)
                    .where(
                        col(Item.id).in_(ids),
                        col(Item.cluster_id).is_(None),
                        col(Item.state) == ItemState.PENDING_REVIEW,
                    )
                    .values(cluster_id=row.id)
                    .execution_options(synchronize_session=False)
                ),
            )
            if marked.rowcount != len(ids):
                await session.rollback()
                continue
            session.add(row)
            await audit.record(
                session, "cluster_formed", cluster_id=row.id, items=ids, bucket=row.bucket
            )
        formed.append(row)
    return formed


@dataclass
class ClusterReport:
    """What *Approve all* did, item by item."""

    approved: list[str] = field(default_factory=list)
    waiting: list[tuple[str, str]] = field(default_factory=list)  # (item, what it still needs)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (item, why)

    def as_record(self) -> dict[str, Any]:
        return {
            "approved": self.approved,
            "waiting": [list(pair) for pair in self.waiting],
            "refused": [list(pair) for pair in self.refused],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> ClusterReport:
        record = record or {}
        return cls(
            list(record.get("approved", [])),
            [(str(a), str(b)) for a, b in record.get("waiting", [])],
            [(str(a), str(b)) for a, b in record.get("refused", [])],
        )


async def get_cluster(sessions: SessionFactory, cluster_id: str) -> ReviewCluster | None:
    async with sessions() as session:
        return await session.get(ReviewCluster, cluster_id)


async def approve_cluster(
    sessions: SessionFactory, *, cluster: ReviewCluster, roles: Roles, policy: LeadSettings
) -> ClusterReport:
    """Approve each member as ``roles.user_id`` through the normal approve path."""
    report = ClusterReport()
    for member in cluster.members:
        item_id, version = str(member["id"]), int(member["version"])
        result = await approve(
            sessions, item_id=item_id, roles=roles, policy=policy, version=version
        )
        if result.status == ReviewStatus.RECORDED:
            report.approved.append(item_id)
        elif result.status == ReviewStatus.WAITING:
            report.waiting.append((item_id, result.message))
        else:
            report.refused.append((item_id, result.message))
    async with transaction(sessions) as session:
        await session.execute(
            update(ReviewCluster)
            .where(col(ReviewCluster.id) == cluster.id)
            .values(
                status=APPROVED,
                decided_by=roles.user_id,
                decided_at=utcnow(),
                report=report.as_record(),
            )
            .execution_options(synchronize_session=False)
        )
        await audit.record(
            session,
            "cluster_approve_all",
            actor=roles.user_id,
            cluster_id=cluster.id,
            approved=report.approved,
            waiting=[item for item, _ in report.waiting],
            refused=[item for item, _ in report.refused],
        )
    return report


async def close_one_by_one(sessions: SessionFactory, *, cluster_id: str, user: str) -> bool:
    """*Review one by one*: the cluster card steps aside (its items keep their own cards and
    stay off other clusters); True when this click closed it."""
    async with transaction(sessions) as session:
        closed = cast(
            CursorResult[Any],
            await session.execute(
                update(ReviewCluster)
                .where(col(ReviewCluster.id) == cluster_id, col(ReviewCluster.status) == OPEN)
                .values(status=ONE_BY_ONE, decided_by=user, decided_at=utcnow())
                .execution_options(synchronize_session=False)
            ),
        )
        if closed.rowcount != 1:
            return False
        await audit.record(session, "cluster_one_by_one", actor=user, cluster_id=cluster_id)
    return True


async def record_card(sessions: SessionFactory, cluster_id: str, channel: str, ts: str) -> None:
    async with transaction(sessions) as session:
        await session.execute(
            update(ReviewCluster)
            .where(col(ReviewCluster.id) == cluster_id)
            .values(slack_channel=channel, slack_ts=ts)
            .execution_options(synchronize_session=False)
        )
