"""Benchmark 5: time to a card, from a high-risk webhook to its ``chat.postMessage`` at Slack.

One ``serve`` process (worker in-process) on PostgreSQL, the fake OpenAI answering after
``--llm-delay`` seconds. High-risk tickets are sent one at a time, ``--gap`` seconds apart (more
than Slack's one message per second per channel, so Signoff's pacing never holds a card back):
this is the latency a reviewer sees at low load, not a throughput. Each sample is the time from
sending the signed webhook until the fake Slack received the card naming its item. The goal is
the LLM's latency plus 250 ms at p99; ``overhead_p99_ms`` is the part that is Signoff's.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from typing import Any

import httpx

from benchmarks import harness
from benchmarks.fakes import BenchOpenAI
from benchmarks.payloads import ticket_request
from benchmarks.stats import summarise_ms
from tests.support.fakes.slack_api import FakeSlack
from tests.support.signatures import generic_headers

GOAL_OVERHEAD_MS = 250.0


def _card_at(slack: FakeSlack, item_id: str) -> float | None:
    for call in slack.calls("chat.postMessage"):
        if not call.failed and item_id in json.dumps(call.params):
            return call.at
    return None


def _one(
    client: httpx.Client, server_url: str, slack: FakeSlack, number: int, run: str, timeout: float
) -> float | None:
    """Seconds from sending one high-risk ticket until its card reached Slack."""
    request = ticket_request(number, run, high_risk=True)
    headers = {"Content-Type": request.content_type}
    headers.update(generic_headers(harness.WEBHOOK_SECRET, request.body))
    sent = time.time()
    response = client.post(server_url + request.path, content=request.body, headers=headers)
    if response.status_code != 202:
        return None
    item_id = response.json()["item_id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at = _card_at(slack, item_id)
        if at is not None:
            return at - sent
        time.sleep(0.002)
    return None


def _samples(
    server_url: str, slack: FakeSlack, count: int, gap: float, timeout: float
) -> tuple[list[float], int]:
    run = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    missing = 0
    with httpx.Client(timeout=30) as client:
        for number in range(count):
            began = time.monotonic()
            took = _one(client, server_url, slack, number, run, timeout)
            if took is None:
                missing += 1
            else:
                latencies.append(took)
            time.sleep(max(0.0, gap - (time.monotonic() - began)))
    return latencies, missing


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    with harness.end_to_end() as e2e:
        slack = e2e.slack
        llm = e2e.stack.enter_context(BenchOpenAI(args.llm_delay))
        url = harness.released_database(args.database, e2e.workdir, "cards", e2e.stack)
        settings = e2e.settings(url, **llm.signoff_settings())
        with harness.signoff(settings, e2e.workdir) as server:
            # Warm-up: the PII analyzer, the OpenAI client and the first card load on first use.
            _samples(server.url, slack, args.warmup, args.gap, args.timeout)
            latencies, missing = _samples(server.url, slack, args.tickets, args.gap, args.timeout)
            errors = server.error_lines()
    summary = summarise_ms(latencies)
    llm_ms = args.llm_delay * 1000
    overhead = {
        key: round(summary[key] - llm_ms, 1) if summary[key] is not None else None
        for key in ("median_ms", "p99_ms")
    }
    return harness.report(
        "card_latency",
        {
            "tickets": args.tickets,
            "warmup": args.warmup,
            "gap_s": args.gap,
            "llm_delay_s": args.llm_delay,
            "database": args.database,
            "measured": "webhook sent → chat.postMessage of its card at the fake Slack",
        },
        {
            **summary,
            "no_card": missing,
            "overhead_median_ms": overhead["median_ms"],
            "overhead_p99_ms": overhead["p99_ms"],
            "goal_p99_ms": llm_ms + GOAL_OVERHEAD_MS,
            "server_errors": errors,
        },
        started,
    )


def parser() -> argparse.ArgumentParser:
    parser = harness.bench_parser(__doc__, tickets=100, llm_delay=0.5)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--gap", type=float, default=1.2, help="seconds between tickets")
    parser.add_argument("--timeout", type=float, default=30.0, help="per card")
    return parser


if __name__ == "__main__":
    harness.main(run, parser())
