"""Benchmark 4: ``/signoff pending`` and ``/signoff stats`` with a million items in PostgreSQL.

The items (and a decision for each decided one) are written with ``COPY``, spread over the last
30 days; the newest 1% are waiting for review, as they would be in a real queue. Then the real
server answers the commands one at a time;
each sample is the time from sending the signed command until its answer reaches the
``response_url`` (the ack comes first and says nothing about the query). The query plans of the
reads that scale with the table are printed with ``EXPLAIN ANALYZE``. The hourly tallies that
``/signoff stats`` sums are rebuilt from the seeded rows, as the migration does.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from sqlalchemy import create_engine as create_sync_engine

from benchmarks import harness
from benchmarks.payloads import command_request
from benchmarks.seed import copy_rows, item_row
from benchmarks.stats import summarise_ms
from bot.store.database import sync_url
from bot.store.stat_tally import rebuild
from tests.support.fakes.slack_api import FakeSlack
from tests.support.signatures import slack_headers

SPAN = timedelta(days=30)

# The reads that grow with the table, written as the SQL Signoff's code issues (see
# bot/review_queries.py, bot/item_store.py claim, bot/review_stats.py).
PLANS = {
    "pending_count": ("SELECT count(*) FROM item WHERE state = 'pending_review'"),
    "pending_page": (
        "SELECT * FROM item WHERE state = 'pending_review' ORDER BY created_at LIMIT 10"
    ),
    "worker_claim": (
        "SELECT id FROM item WHERE (state IN ('received', 'assessed', 'approved', 'executing')"
        " OR (state = 'pending_review' AND slack_ts IS NULL))"
        " AND (claimed_until IS NULL OR claimed_until < now())"
        " AND (next_attempt_at IS NULL OR next_attempt_at <= now())"
        " ORDER BY created_at LIMIT 20 FOR UPDATE SKIP LOCKED"
    ),
    "stats_tallies_7d": (
        "SELECT metric, sum(count), sum(total) FROM stat_tally"
        " WHERE hour >= date_trunc('hour', now() - interval '7 days') GROUP BY metric"
    ),
    "stats_median_wait_7d": (
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY wait_seconds) FROM decision"
        " WHERE created_at >= now() - interval '7 days' AND wait_seconds IS NOT NULL"
    ),
}


def _state(number: int, count: int) -> str:
    """The newest 1% wait for review (items expire after a day, so pending ones are recent);
    of the older ones one in twenty was rejected."""
    if number >= count - max(1, count // 100):
        return "pending_review"
    if number % 20 == 1:
        return "rejected"
    return "executed"


def _items(count: int, now: datetime) -> Iterator[dict[str, Any]]:
    step = SPAN / count
    first = now - SPAN
    for n in range(count):
        row = item_row(n, _state(n, count), run="scale")
        created = first + step * n
        row.update(created_at=created, updated_at=created, review_started_at=created)
        if row["state"] != "pending_review":
            row["decision_id"] = n + 1
            row["decided_at"] = created + timedelta(minutes=5)
        yield row


def _decisions(count: int, now: datetime) -> Iterator[dict[str, Any]]:
    step = SPAN / count
    first = now - SPAN
    for n in range(count):
        state = _state(n, count)
        if state == "pending_review":
            continue
        outcome = "rejected" if state == "rejected" else ("auto_approved", "approved")[n % 2]
        yield {
            "id": n + 1,
            "item_id": f"itm_scale{n:012d}"[:32],
            "outcome": outcome,
            "actor": "auto" if outcome == "auto_approved" else harness.REVIEWER,
            "policy": "low_risk" if outcome == "auto_approved" else None,
            "wait_seconds": None if outcome == "auto_approved" else 300.0,
            "created_at": first + step * n + timedelta(minutes=5),
        }


def _seed(url: str, count: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    began = time.monotonic()
    items = copy_rows(url, "item", _items(count, now))
    decisions = copy_rows(url, "decision", _decisions(count, now))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('decision', 'id'), max(id)) FROM decision"
        )
        # What autovacuum would have done by the time a table holds a million rows: statistics
        # for the planner and a visibility map for index-only scans.
        conn.execute("VACUUM ANALYZE item")
        conn.execute("VACUUM ANALYZE decision")
    seeded = round(time.monotonic() - began, 1)
    began = time.monotonic()
    # The hourly tallies the live code keeps, computed from the rows the way the migration
    # backfills them.
    engine = create_sync_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            tallies = rebuild(connection)
    finally:
        engine.dispose()
    return {
        "items": items,
        "decisions": decisions,
        "seconds": seeded,
        "tally_rows": tallies,
        "tally_rebuild_seconds": round(time.monotonic() - began, 1),
    }


def _plans(url: str) -> dict[str, Any]:
    plans: dict[str, Any] = {}
    with psycopg.connect(url) as conn:
        for name, sql in PLANS.items():
            rows = conn.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) {sql}").fetchall()
            lines = [str(row[0]) for row in rows]
            plans[name] = {
                "sql": sql,
                "plan": lines,
                "seq_scan_on_item": any("Seq Scan on item" in line for line in lines),
                "uses_index": any("Index" in line for line in lines),
            }
            conn.rollback()
    return plans


def _timed_command(
    client: httpx.Client, server_url: str, slack: FakeSlack, text: str, name: str, timeout: float
) -> float | None:
    """Seconds from sending ``/signoff <text>`` until its answer reached the response_url."""
    request = command_request(text, slack.response_url(name), text)
    headers = {"Content-Type": request.content_type}
    headers.update(slack_headers(harness.SIGNING_SECRET, request.body))
    method = f"response_url:{name}"
    sent = time.time()
    response = client.post(server_url + request.path, content=request.body, headers=headers)
    if response.status_code != 200:
        return None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for call in slack.calls(method):
            return call.at - sent
        time.sleep(0.002)
    return None


def _sample(
    server_url: str, slack: FakeSlack, text: str, samples: int, timeout: float
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    latencies: list[float] = []
    missing = 0
    with httpx.Client(timeout=30) as client:
        for n in range(samples):
            took = _timed_command(client, server_url, slack, text, f"{run}-{n}", timeout)
            if took is None:
                missing += 1
            else:
                latencies.append(took)
    return {**summarise_ms(latencies), "no_answer_within_s": timeout, "unanswered": missing}


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    with harness.end_to_end() as e2e:
        slack = e2e.slack
        url = e2e.stack.enter_context(harness.bench_database("scale"))
        harness.migrate(url, e2e.workdir)
        seeded = _seed(url, args.items)
        plans = _plans(url)
        with harness.signoff(e2e.settings(url), e2e.workdir) as server:
            _sample(server.url, slack, "pending", 3, args.timeout)  # warm-up
            pending = _sample(server.url, slack, "pending", args.samples, args.timeout)
            stats = _sample(server.url, slack, "stats", args.stats_samples, args.timeout)
            peak_rss = server.peak_rss_mib()
            errors = server.error_lines()
    return harness.report(
        "scale",
        {
            "items": args.items,
            "pending_fraction": 0.01,
            "spread_over_days": SPAN.days,
            "pending_samples": args.samples,
            "stats_samples": args.stats_samples,
            "database": "postgres",
            "measured": "send → answer at response_url, one command at a time",
        },
        {
            "seed": seeded,
            "pending": pending,
            "stats": stats,
            "peak_rss_mib": peak_rss,
            "server_errors": errors,
            "plans": plans,
        },
        started,
    )


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--stats-samples", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=60.0, help="per answer")
    return parser


if __name__ == "__main__":
    harness.main(run, parser())
