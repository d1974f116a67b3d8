"""Benchmark 1: how fast Slack gets its acknowledgement, while the LLM and the executor are slow.

50 concurrent clients send signed Approve clicks (``block_actions``) and ``/signoff pending``
commands. Meanwhile tickets keep arriving by webhook, the fake LLM answers each after
``--llm-delay`` seconds and the action endpoint after ``--executor-delay``: the ack must never
wait for either. Every answer over 3 s (Slack's limit) is counted. For ``/signoff pending`` the
time until the answer reaches the ``response_url`` is reported too. The floor is a bare Bolt
app on the same stack that verifies the signature and acks.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks import harness
from benchmarks.fakes import BenchOpenAI
from benchmarks.loadgen import Outcome, Plan, Request, run_load, summarise
from benchmarks.payloads import approve_request, command_request, ticket_request
from benchmarks.seed import insert_items, item_row
from benchmarks.stats import ratio, summarise_ms
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack


def _requests(count: int, item_ids: list[str], slack: FakeSlack, run: str) -> list[Request]:
    """Approve clicks and pending commands, interleaved; each command has its own response_url
    so its answer can be matched to its request."""
    chooser = random.Random(7)
    requests = []
    for n in range(count):
        if n % 2 == 0:
            item = chooser.choice(item_ids)
            requests.append(approve_request(item, slack.response_url(f"{run}-a{n}")))
        else:
            requests.append(
                command_request("pending", slack.response_url(f"{run}-p{n}"), "pending")
            )
    return requests


def _backlog(count: int) -> list[Request]:
    """Tickets sent just before the clicks, half low risk (auto-executed on the slow endpoint)
    and half for review, so the slow LLM and executor are busy the whole time."""
    run = uuid.uuid4().hex[:8]
    return [ticket_request(n, run, high_risk=n % 2 == 1) for n in range(count)]


def _wait_for_answers(slack: FakeSlack, run: str, expected: int, timeout: float) -> None:
    prefix = f"response_url:{run}-p"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for c in slack.calls() if c.method.startswith(prefix)) >= expected:
            return
        time.sleep(0.2)


def _answer_latencies(outcome: Outcome, slack: FakeSlack, run: str) -> list[float]:
    """Seconds from sending each ``/signoff pending`` to its answer arriving at response_url."""
    sent = {f"response_url:{run}-p{r.index}": r.sent_at for r in outcome.results}
    return [
        call.at - sent[call.method]
        for call in slack.calls()
        if call.method in sent and call.method.startswith(f"response_url:{run}-p")
    ]


def _summary(outcome: Outcome) -> dict[str, Any]:
    return {"approve": summarise(outcome, "approve"), "pending": summarise(outcome, "pending")}


def _signoff(args: argparse.Namespace, slack: FakeSlack) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        contextlib.ExitStack() as stack,
        HttpSink() as sink,
        BenchOpenAI(args.llm_delay) as llm,
    ):
        workdir = Path(tmp)
        sink.delay = args.executor_delay
        url = harness.released_database(args.database, workdir, "ack", stack)
        settings = harness.signoff_settings(
            port=harness.free_port(),
            database_url=url,
            slack_api_url=slack.api_url,
            **llm.signoff_settings(),
            SIGNOFF_LLM_CONCURRENCY="8",
            SIGNOFF_ACTION_URL=sink.url,
        )
        run = uuid.uuid4().hex[:8]
        with harness.signoff(settings, workdir) as server:
            rss_at_ready = server.rss_mib()
            rows = [item_row(n, "pending_review", run="ack") for n in range(args.items)]
            insert_items(url, rows)
            item_ids = [r["id"] for r in rows]
            requests = _requests(args.requests, item_ids, slack, run)
            plan = Plan(
                server.url,
                requests,
                args.concurrency,
                slack_secret=harness.SIGNING_SECRET,
                webhook_secret=harness.WEBHOOK_SECRET,
                # Clicks to warm up, then the backlog that keeps the LLM and executor busy.
                warmup=_requests(args.warmup, item_ids, slack, run + "w") + _backlog(args.backlog),
            )
            outcome = run_load(plan)
            clicks_done = time.monotonic()
            pending_sent = sum(1 for r in requests if r.tag == "pending")
            _wait_for_answers(slack, run, pending_sent, timeout=40)
            result = _summary(outcome)
            result["pending_answer"] = summarise_ms(_answer_latencies(outcome, slack, run))
            result["pending_answers_drained_after_s"] = round(time.monotonic() - clicks_done, 1)
            result["light"] = _light(server.url, item_ids, slack, run + "l", args)
            result["background"] = {
                "llm_calls": len(llm.requests),
                "llm_max_in_flight": llm.max_in_flight,
                "executor_calls": len(sink.requests),
            }
            result["rss_at_ready_mib"] = rss_at_ready
            result["peak_rss_mib"] = server.peak_rss_mib()
            result["server_errors"] = server.error_lines()
        return result


def _light(
    url: str,
    item_ids: list[str],
    slack: FakeSlack,
    run: str,
    args: argparse.Namespace,
    *,
    answers: bool = True,
) -> dict[str, Any]:
    """The same mix from a few clients: latency when the server is not saturated (the 50-client
    run measures saturation, where every figure is mostly queueing)."""
    requests = _requests(args.light_requests, item_ids, slack, run)
    outcome = run_load(
        Plan(url, requests, args.light_concurrency, slack_secret=harness.SIGNING_SECRET)
    )
    result = _summary(outcome)
    if answers:  # the floor only acks: it never answers at the response_url
        pending_sent = sum(1 for r in requests if r.tag == "pending")
        _wait_for_answers(slack, run, pending_sent, timeout=20)
        result["pending_answer"] = summarise_ms(_answer_latencies(outcome, slack, run))
    return result


def _floor(args: argparse.Namespace, slack: FakeSlack) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        port = harness.free_port()
        extra = {"SLACK_API_URL": slack.api_url}
        item_ids = [f"itm_floor{n:06d}" for n in range(args.items)]
        with harness.floor("slack", port, Path(tmp), extra) as server:
            requests = _requests(args.requests, item_ids, slack, "floor")
            plan = Plan(
                server.url,
                requests,
                args.concurrency,
                slack_secret=harness.SIGNING_SECRET,
                warmup=_requests(args.warmup, item_ids, slack, "floorw"),
            )
            outcome = run_load(plan)
            result = _summary(outcome)
            result["light"] = _light(server.url, item_ids, slack, "floorl", args, answers=False)
            result["peak_rss_mib"] = server.peak_rss_mib()
            return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    with FakeSlack() as slack:
        signoff = _signoff(args, slack)
        floor = _floor(args, slack)
    return {
        "benchmark": "ack_latency",
        "settings": {
            "requests": args.requests,
            "warmup": args.warmup,
            "concurrency": args.concurrency,
            "database": args.database,
            "seeded_pending_items": args.items,
            "llm_delay_s": args.llm_delay,
            "executor_delay_s": args.executor_delay,
            "backlog_tickets_before_clicks": args.backlog,
            "light_requests": args.light_requests,
            "light_concurrency": args.light_concurrency,
            "mix": "half Approve clicks on random seeded items, half /signoff pending",
        },
        "results": {
            "signoff": signoff,
            "floor": floor,
            "approve_p99_ratio_to_floor": ratio(
                signoff["approve"]["p99_ms"], floor["approve"]["p99_ms"]
            ),
            "pending_p99_ratio_to_floor": ratio(
                signoff["pending"]["p99_ms"], floor["pending"]["p99_ms"]
            ),
            "light_approve_p99_ratio_to_floor": ratio(
                signoff["light"]["approve"]["p99_ms"], floor["light"]["approve"]["p99_ms"]
            ),
            "light_pending_p99_ratio_to_floor": ratio(
                signoff["light"]["pending"]["p99_ms"], floor["light"]["pending"]["p99_ms"]
            ),
        },
        **harness.run_facts(started),
    }


def parser() -> argparse.ArgumentParser:
    parser = harness.http_load_parser(__doc__)
    parser.add_argument("--items", type=int, default=500, help="seeded pending items")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--llm-delay", type=float, default=2.0)
    parser.add_argument("--executor-delay", type=float, default=2.0)
    parser.add_argument("--backlog", type=int, default=100, help="tickets sent just before")
    parser.add_argument("--light-requests", type=int, default=500)
    parser.add_argument("--light-concurrency", type=int, default=5)
    return parser


def main() -> None:
    harness.emit(run(parser().parse_args()))


if __name__ == "__main__":
    main()
