"""Benchmark 3: how many tickets per second go through the LLM step, against its ceiling.

``--tickets`` tickets arrive by webhook as fast as they are accepted; the fake OpenAI answers
each after ``--llm-delay`` seconds; ``SIGNOFF_LLM_CONCURRENCY`` calls may be in flight, so the
ceiling is concurrency / delay items per second (8 / 0.5 s = 16/s). Throughput is the number of
tickets divided by the time from the first post until the last one has been assessed; the time
until every item has settled (executed, or its card posted for review) is reported too.
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

from sqlalchemy import Engine, create_engine, text

from benchmarks import harness
from benchmarks.fakes import BenchOpenAI
from benchmarks.loadgen import Plan, run_load, summarise
from benchmarks.payloads import ticket_request
from bot.store.database import sync_url
from tests.support.fakes.http_sink import HttpSink

SETTLED = {"executed", "rejected", "failed", "expired"}


def item_states(db: Engine, run: str) -> dict[str, int]:
    """Items of this run by state (pending items count as settled once their card is posted)."""
    with db.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT state, slack_ts IS NOT NULL, count(*) FROM item"
                " WHERE external_id LIKE :run GROUP BY 1, 2"
            ),
            {"run": f"BENCH-{run}-%"},
        ).all()
    counts: dict[str, int] = {}
    for state, posted, count in rows:
        key = "pending_review_posted" if state == "pending_review" and posted else state
        counts[key] = counts.get(key, 0) + count
    return counts


def _feed_and_watch(
    url: str, db: Engine, count: int, high_risk_every: int, timeout: float
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    requests = [
        ticket_request(n, run, high_risk=high_risk_every > 0 and n % high_risk_every == 0)
        for n in range(count)
    ]
    started = time.monotonic()
    ingest = run_load(Plan(url, requests, 20, webhook_secret=harness.WEBHOOK_SECRET))
    posted_after = time.monotonic() - started
    assessed_after = settled_after = None
    states: dict[str, int] = {}
    now = posted_after
    while time.monotonic() - started < timeout:
        states = item_states(db, run)
        now = time.monotonic() - started
        if assessed_after is None and states.get("received", 0) == 0 and states:
            assessed_after = now
        done = sum(v for k, v in states.items() if k in SETTLED or k == "pending_review_posted")
        if done >= count:
            settled_after = now
            break
        time.sleep(0.25)
    return {
        "ingest": summarise(ingest, ok=(202,)),
        "all_posted_after_s": round(posted_after, 2),
        "all_assessed_after_s": round(assessed_after, 2) if assessed_after else None,
        "all_settled_after_s": round(settled_after, 2) if settled_after else None,
        "final_states": states,
        "assessed": count - states.get("received", 0),
        "watched_for_s": round(now, 2),
    }


def _delta(after: float | None, before: float | None) -> float | None:
    return after - before if after is not None and before is not None else None


def _per(total: float | None, count: int, scale: float) -> float | None:
    return round(total * scale / count, 1) if total is not None and count else None


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    ceiling = args.concurrency / args.llm_delay
    with harness.end_to_end() as e2e:
        sink = e2e.stack.enter_context(HttpSink())
        llm = e2e.stack.enter_context(BenchOpenAI(args.llm_delay))
        url = harness.released_database(args.database, e2e.workdir, "pipeline", e2e.stack)
        settings = e2e.settings(
            url,
            **llm.signoff_settings(),
            SIGNOFF_LLM_CONCURRENCY=str(args.concurrency),
            SIGNOFF_ACTION_URL=sink.url,
            **(
                {"SIGNOFF_WORKER_CONCURRENCY": str(args.worker_concurrency)}
                if args.worker_concurrency
                else {}
            ),
        )
        db = create_engine(sync_url(url))
        e2e.stack.callback(db.dispose)
        with harness.signoff(settings, e2e.workdir) as server:
            # Warm-up: the PII analyzer and the OpenAI client load on first use.
            _feed_and_watch(server.url, db, args.warmup, 0, timeout=60)
            llm.max_in_flight = 0
            calls_before = len(llm.requests)
            cpu_before = server.cpu_seconds()
            xact_before = harness.pg_transactions(url)
            measured = _feed_and_watch(
                server.url, db, args.tickets, args.high_risk_every, timeout=args.max_seconds
            )
            cpu_used = _delta(server.cpu_seconds(), cpu_before)
            xacts = _delta(harness.pg_transactions(url), xact_before)
            peak_rss = server.peak_rss_mib()
            errors = server.error_lines()
        # All assessed: tickets / time until the last one was. Stopped at --max-seconds first:
        # what was assessed by then / that time (the run says so in stopped_early).
        assessed = measured["all_assessed_after_s"]
        if assessed:
            throughput: float | None = round(args.tickets / assessed, 2)
        elif measured["watched_for_s"]:
            throughput = round(measured["assessed"] / measured["watched_for_s"], 2)
        else:
            throughput = None
        result: dict[str, Any] = {
            **measured,
            "assessed_per_s": throughput,
            "ceiling_per_s": ceiling,
            "ratio_to_ceiling": round(throughput / ceiling, 3) if throughput else None,
            "stopped_early": assessed is None,
            "server_cpu_ms_per_ticket": _per(cpu_used, args.tickets, 1000),
            "db_transactions_per_ticket": _per(xacts, args.tickets, 1),
            "llm_calls": len(llm.requests) - calls_before,
            "llm_max_in_flight": llm.max_in_flight,
            "cards_posted": len(e2e.slack.calls("chat.postMessage")),
            "actions_executed": len(sink.requests),
            "peak_rss_mib": peak_rss,
            "server_errors": errors,
        }
    return harness.report(
        "pipeline_throughput",
        {
            "tickets": args.tickets,
            "warmup": args.warmup,
            "llm_delay_s": args.llm_delay,
            "SIGNOFF_LLM_CONCURRENCY": args.concurrency,
            "database": args.database,
            "high_risk_every": args.high_risk_every,
            "max_seconds": args.max_seconds,
            "SIGNOFF_WORKER_CONCURRENCY": args.worker_concurrency or "default",
            "classifier": "openai (fake server)",
        },
        result,
        started,
    )


def parser() -> argparse.ArgumentParser:
    parser = harness.bench_parser(__doc__, tickets=1000, llm_delay=0.5, concurrency=8)
    parser.add_argument("--warmup", type=int, default=16)
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=0,
        help="SIGNOFF_WORKER_CONCURRENCY (0: leave Signoff's default)",
    )
    parser.add_argument(
        "--max-seconds", type=float, default=150.0, help="stop watching (keeps make bench bounded)"
    )
    parser.add_argument(
        "--high-risk-every", type=int, default=5, help="every Nth ticket needs a human (0: none)"
    )
    return parser


if __name__ == "__main__":
    harness.main(run, parser())
