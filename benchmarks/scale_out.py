"""Benchmark 6: executions per second with 1, 2 and 4 worker processes on one PostgreSQL.

For each count, a fresh database, one ``serve`` process for the webhooks (its worker off) and
that many ``python -m bot work`` processes, every one ready before the first ticket. Then
``--tickets`` low-risk tickets arrive by webhook; each is assessed by the fake OpenAI (answering
after ``--llm-delay`` seconds, ``SIGNOFF_LLM_CONCURRENCY`` calls per process), auto-approved and
executed against an action endpoint that answers after ``--action-delay`` seconds. The figure
is tickets executed divided by the time from the first post until the last execution. Goal on
two cores: two processes at least 1.7x one, four no slower than two; if the audit chain (or
anything else shared) serialised the steps, more processes would not add throughput.
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

from sqlalchemy import create_engine

from benchmarks import harness
from benchmarks.fakes import BenchOpenAI
from benchmarks.loadgen import Plan, run_load, summarise
from benchmarks.payloads import ticket_request
from benchmarks.pipeline_throughput import item_states
from benchmarks.stats import ratio
from bot.store.database import sync_url
from tests.support.fakes.http_sink import HttpSink

ENDED = ("executed", "failed", "rejected", "expired", "pending_review", "pending_review_posted")


def _feed_and_watch(url: str, database_url: str, count: int, timeout: float) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    requests = [ticket_request(n, run) for n in range(count)]
    db = create_engine(sync_url(database_url))
    try:
        started = time.monotonic()
        ingest = run_load(Plan(url, requests, 20, webhook_secret=harness.WEBHOOK_SECRET))
        states: dict[str, int] = {}
        finished = None
        while time.monotonic() - started < timeout:
            states = item_states(db, run)
            if sum(states.get(state, 0) for state in ENDED) >= count:
                finished = time.monotonic() - started
                break
            time.sleep(0.25)
        watched = time.monotonic() - started
    finally:
        db.dispose()
    executed = states.get("executed", 0)
    elapsed = finished if finished is not None else watched
    return {
        "ingest": summarise(ingest, ok=(202,)),
        "final_states": states,
        "all_ended_after_s": round(finished, 2) if finished is not None else None,
        "watched_for_s": round(watched, 2),
        "executed_per_s": round(executed / elapsed, 2) if elapsed else None,
    }


def _one_count(processes: int, args: argparse.Namespace) -> dict[str, Any]:
    with harness.end_to_end() as e2e:
        stack, workdir = e2e.stack, e2e.workdir
        sink = stack.enter_context(HttpSink())
        llm = stack.enter_context(BenchOpenAI(args.llm_delay))
        sink.delay = args.action_delay
        url = harness.released_database("postgres", workdir, f"scaleout{processes}", stack)

        def settings(**extra: str) -> dict[str, str]:
            return e2e.settings(
                url,
                **llm.signoff_settings(),
                SIGNOFF_LLM_CONCURRENCY=str(args.concurrency),
                SIGNOFF_ACTION_URL=sink.url,
                **extra,
            )

        web = stack.enter_context(
            harness.signoff(settings(SIGNOFF_INPROCESS_WORKER="false"), workdir)
        )
        workers = [
            stack.enter_context(harness.worker_process(settings(), workdir))
            for _ in range(processes)
        ]
        cpu_before = [w.cpu_seconds() or 0.0 for w in workers]
        result = _feed_and_watch(web.url, url, args.tickets, args.max_seconds)
        cpu = sum((w.cpu_seconds() or 0.0) - b for w, b in zip(workers, cpu_before, strict=True))
        result.update(
            processes=processes,
            worker_cpu_ms_per_ticket=round(cpu * 1000 / args.tickets, 1),
            actions_executed=len(sink.requests),
            llm_calls=len(llm.requests),
            server_errors=[line for w in [web, *workers] for line in w.error_lines(2)],
        )
        return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    counts = [int(n) for n in args.processes.split(",")]
    by_count = {str(n): _one_count(n, args) for n in counts}
    rates = {n: by_count[n]["executed_per_s"] for n in by_count}
    one = rates.get("1")
    results: dict[str, Any] = {
        "by_processes": by_count,
        "executed_per_s": rates,
        "ratio_to_one_process": {n: ratio(rate, one) for n, rate in rates.items()},
    }
    if "2" in rates and "4" in rates:
        results["four_over_two"] = ratio(rates["4"], rates["2"])
    return harness.report(
        "scale_out",
        {
            "tickets": args.tickets,
            "processes": counts,
            "llm_delay_s": args.llm_delay,
            "SIGNOFF_LLM_CONCURRENCY": args.concurrency,
            "action_delay_s": args.action_delay,
            "database": "postgres",
            "tickets_are": "low risk: assessed, auto-approved, executed",
        },
        results,
        started,
    )


def parser() -> argparse.ArgumentParser:
    parser = harness.bench_parser(
        __doc__, tickets=1000, llm_delay=0.5, concurrency=8, database=False
    )
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--action-delay", type=float, default=0.1)
    parser.add_argument("--max-seconds", type=float, default=180.0, help="per process count")
    return parser


if __name__ == "__main__":
    harness.main(run, parser())
