"""Benchmark 5: a burst of high-risk tickets against Slack's per-channel rate limit.

``--tickets`` refunds above the auto limit arrive within ``--seconds`` seconds; every one needs a
card in the one review channel, and the fake Slack allows about ``--rate`` messages per second
per channel (burst 2) and answers 429 with ``Retry-After: 1`` beyond that. Reported: whether any
item was lost, whether any card was posted twice, how many ``chat.postMessage`` calls it took (a
retry storm would show as many 429s per card) and how long until every item was visible to
reviewers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import uuid
from typing import Any

from sqlalchemy import create_engine, text

from benchmarks import harness
from benchmarks.loadgen import Plan, run_load, summarise
from benchmarks.payloads import ticket_request
from bot.store.database import sync_url

# Printed on stderr once every ticket is in, so run_all can start the next benchmark while this
# one waits out the rate limit.
INGESTED_MARKER = "burst: all tickets sent"


def _visible(url: str, run: str) -> tuple[int, int]:
    """(items of this run, of which have a posted card)."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            row = connection.execute(
                text("SELECT count(*), count(slack_ts) FROM item WHERE external_id LIKE :run"),
                {"run": f"BENCH-{run}-%"},
            ).one()
        return int(row[0]), int(row[1])
    finally:
        engine.dispose()


def _card_item(params: dict[str, Any]) -> str | None:
    """The item a posted message is the review card of (its ``review:<id>`` actions block)."""
    found = set(re.findall(r"review:(itm_\w+)", json.dumps(params)))
    return found.pop() if len(found) == 1 else None


def _busiest_second(times: list[float]) -> int:
    """The most calls in any one-second window: a retry storm shows up here."""
    ordered = sorted(times)
    best = start = 0
    for end, at in enumerate(ordered):
        while at - ordered[start] > 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def run(args: argparse.Namespace) -> dict[str, Any]:
    began = time.monotonic()
    with harness.end_to_end() as e2e:
        slack = e2e.slack
        slack.rate_limit_per_channel = args.rate
        url = harness.released_database(args.database, e2e.workdir, "burst", e2e.stack)
        run_id = uuid.uuid4().hex[:8]
        requests = [ticket_request(n, run_id, high_risk=True) for n in range(args.tickets)]
        with harness.signoff(e2e.settings(url), e2e.workdir) as server:
            started = time.monotonic()
            started_wall = time.time()
            outcome = run_load(
                Plan(
                    server.url,
                    requests,
                    concurrency=10,
                    webhook_secret=harness.WEBHOOK_SECRET,
                    rate=args.tickets / args.seconds,
                )
            )
            print(INGESTED_MARKER, file=sys.stderr, flush=True)
            stored = visible = 0
            all_visible_after = None
            deadline = started + args.tickets / args.rate * 3 + 60
            while time.monotonic() < deadline:
                stored, visible = _visible(url, run_id)
                if visible >= args.tickets:
                    all_visible_after = time.monotonic() - started
                    break
                time.sleep(0.5)
            time.sleep(1.0)  # a late duplicate post would show up by now
            stored, visible = _visible(url, run_id)
            peak_rss = server.peak_rss_mib()
            errors = server.error_lines()
        posts = [c for c in slack.calls("chat.postMessage") if c.at >= started_wall]
        accepted = [c for c in posts if not c.failed]
        cards = [_card_item(c.params) for c in accepted]
        card_ids = [item for item in cards if item is not None]
        first_card = min((c.at for c in accepted), default=None)
        result = {
            "ingest": summarise(outcome, ok=(202,)),
            "items_stored": stored,
            "items_lost": args.tickets - stored,
            "cards_visible": visible,
            "first_card_after_s": round(first_card - started_wall, 2) if first_card else None,
            "all_visible_after_s": round(all_visible_after, 1) if all_visible_after else None,
            "lower_bound_s": round(max(0.0, (args.tickets - 2) / args.rate), 1),
            "post_message_calls": len(posts),
            "post_message_429s": len(posts) - len(accepted),
            "calls_per_card": round(len(posts) / len(accepted), 2) if accepted else None,
            "duplicate_cards": len(card_ids) - len(set(card_ids)),
            "other_messages": cards.count(None),  # e.g. a digest of the waiting backlog
            "busiest_second_calls": _busiest_second([c.at for c in posts]),
            "peak_rss_mib": peak_rss,
            "server_errors": errors,
        }
    return harness.report(
        "burst",
        {
            "tickets": args.tickets,
            "within_s": args.seconds,
            "slack_rate_per_channel_per_s": args.rate,
            "slack_burst": 2,
            "database": args.database,
            "classifier": "heuristic",
        },
        result,
        began,
    )


def parser() -> argparse.ArgumentParser:
    parser = harness.bench_parser(__doc__, tickets=300)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1.0, help="messages/s/channel")
    return parser


if __name__ == "__main__":
    harness.main(run, parser())
