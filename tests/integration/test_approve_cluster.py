"""Approve a cluster: twelve near-identical $15-ish refunds get one cluster card beside their own
cards; *Approve all* approves each item through the normal approve path, so each eligible item
executes once with its own idempotency key, decision row and audit entry, and the card reports
the rest: one that needs a second approver (above the quorum amount), one the clicker raised
(four eyes) and one whose draft went stale after the card was posted."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.slack.cluster_card import CLUSTER_APPROVE_ACTION
from bot.store.models import AuditEvent, Decision, ReviewCluster
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import (
    REVIEWER,
    RunningServer,
    block_actions,
    start_server,
    wait_until,
)
from tests.support.slack_review import carded, submit
from tests.support.ticket_factory import refund_ticket

NAMES = ["Maria Lopez", "Sam Park", "Ana Silva", "Li Wei", "Omar Haddad", "Eva Novak"]


def _refund(n: int, amount: str = "15.00", **metadata: Any) -> dict[str, Any]:
    name = NAMES[n % len(NAMES)]
    return refund_ticket(
        amount,
        subject="Shipping fee refund",
        body=f"You charged me the {amount} USD shipping fee twice on order {1000 + n}. "
        "Please refund it.",
        customer={"name": name, "email": f"customer{n}@example.com"},
        metadata={"thread_id": f"conv-{n}", **metadata},
    )


def _clusters(server: RunningServer) -> list[ReviewCluster]:
    return server.rows(ReviewCluster)


def _click_cluster(server: RunningServer, cluster: ReviewCluster, user: str) -> None:
    assert server.slack is not None and cluster.slack_ts
    payload = block_actions(
        action_id=CLUSTER_APPROVE_ACTION,
        item_id=cluster.id,
        user=user,
        channel=cluster.slack_channel,
        message_ts=cluster.slack_ts,
        response_url=server.slack.response_url(f"cluster-{user}"),
    )
    assert server.post_slack({"payload": json.dumps(payload)}).status_code == 200


def test_approve_all_on_a_cluster_of_12_approves_each_eligible_item_once(
    database_url: str, slack: FakeSlack, sink: HttpSink
) -> None:
    with start_server(
        database_url=database_url,
        slack=slack,
        sink=sink,
        default_refund_auto_limit="0",  # every refund waits for a human
        default_quorum_amount="15.50",  # the one 16.00 refund needs two approvers
        slack_posts_per_second=50,
        slack_post_burst=20,
        digest_threshold=0,
        cluster_min_size=12,  # the cluster forms once all twelve wait
    ) as server:
        items = [carded(server, _refund(n)) for n in range(10)]
        items.append(carded(server, _refund(10, "16.00")))
        mine = carded(server, _refund(11, slack_user_id=REVIEWER))
        items.append(mine)

        cluster = wait_until(
            lambda: next((c for c in _clusters(server) if c.slack_ts), None),
            timeout=30,
            what="the cluster card",
        )
        assert sorted(m["id"] for m in cluster.members) == sorted(items)
        card = slack.messages[(cluster.slack_channel, cluster.slack_ts or "")]
        rendered = json.dumps(card["blocks"])
        assert "12 similar refunds of 15.00 to 16.00 USD" in rendered
        assert "12 customers" in rendered and "Approve all 12" in rendered
        assert "Review one by one" in rendered
        # Alongside, not instead: every item still has its own card.
        assert all(server.item(i).slack_ts for i in items)

        # After the card was posted, a newer message makes one draft stale.
        stale = items[0]
        submit(server, _refund(0))
        wait_until(lambda: server.item(stale).stale_reason, what="the stale draft")

        _click_cluster(server, cluster, REVIEWER)
        eligible = [i for i in items if i not in {stale, mine, items[10]}]
        for item_id in eligible:
            server.wait_for_state(item_id, "executed", timeout=30)
        reported = wait_until(
            lambda: next((c for c in _clusters(server) if c.id == cluster.id and c.report), None),
            what="the cluster report",
        )

        # Each eligible item executed once, with its own key.
        requests = sink.wait_for(len(eligible))
        keys = [r.headers.get("idempotency-key") for r in requests]
        assert len(requests) == 9 and len(set(keys)) == 9 and None not in keys
        assert {server.item(i).idempotency_key for i in eligible} == set(keys)

        # Its own decision row and audit entry each.
        with Session(server.db) as session:
            decisions = Counter(
                session.execute(
                    select(col(Decision.item_id)).where(col(Decision.item_id).in_(items))
                ).scalars()
            )
            summary = session.execute(
                select(AuditEvent).where(col(AuditEvent.event) == "cluster_approve_all")
            ).scalar_one()
        assert decisions == Counter(eligible)
        for item_id in eligible:
            assert server.audit_events(item_id).count("approved") == 1

        # The rest, and why.
        report = reported.report or {}
        assert sorted(report["approved"]) == sorted(eligible)
        assert [i for i, _ in report["waiting"]] == [items[10]]
        assert "still waiting for" in report["waiting"][0][1]
        refused = dict(report["refused"])
        assert set(refused) == {stale, mine}
        assert "Re-draft" in refused[stale] or "stale" in refused[stale].lower()
        assert "raised" in refused[mine].lower() or "own" in refused[mine].lower()
        assert server.item(items[10]).state == "pending_review"
        assert server.item(items[10]).approvals == [REVIEWER]
        assert summary.detail["approved"] and summary.actor == REVIEWER

        def final_card() -> str | None:
            # The card is updated after the report is stored: wait for the update to arrive.
            blocks = json.dumps(
                slack.messages[(cluster.slack_channel, cluster.slack_ts or "")]["blocks"]
            )
            return blocks if "9 approved" in blocks else None

        final = wait_until(final_card, what="the cluster card updated with its report")
        assert "9 approved" in final and "1 still need another approver" in final
        assert "2 refused" in final and items[10] in final and mine in final
