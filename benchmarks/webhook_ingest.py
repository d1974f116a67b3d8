"""Benchmark 2: signed generic webhooks per second and their latency, SQLite and PostgreSQL.

Signoff runs as a web process (``SIGNOFF_INPROCESS_WORKER=false``, the split ``Procfile``
allows), so the figure is what one ``serve`` process can accept; ``--worker`` keeps the worker
in-process instead. Two floors, on the same uvicorn+FastAPI with the same clients, each a bare
endpoint that verifies the same HMAC and inserts one row: on PostgreSQL the physical floor goes
straight through ``asyncpg`` (``raw_floor``, the one the ratios are to), and the engine floor
(``floor``) through Signoff's own SQLAlchemy engine, kept as a second line; SQLite has only the
engine floor. Every figure is a ratio to floors measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks import harness
from benchmarks.loadgen import Plan, Request, run_load, summarise
from benchmarks.payloads import ticket_request
from benchmarks.stats import ratio
from tests.support.fakes.slack_api import FakeSlack

ACCEPTED = (202,)


def _requests(count: int) -> list[Request]:
    run = uuid.uuid4().hex[:8]
    return [ticket_request(n, run) for n in range(count)]


def _measure(server: harness.ServerProcess, args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then send the measured requests, noting the server's CPU and the database's
    transactions spent on them."""
    plan = Plan(
        server.url,
        _requests(args.requests),
        args.concurrency,
        webhook_secret=harness.WEBHOOK_SECRET,
        warmup=_requests(args.warmup),
    )
    cpu_before = server.cpu_seconds()
    xact_before = harness.pg_transactions(server.database_url)
    result = summarise(run_load(plan), ok=ACCEPTED)
    cpu_after = server.cpu_seconds()
    xact_after = harness.pg_transactions(server.database_url)
    # Warm-up requests are included in these two (one process, one counter); say so.
    sent = args.requests + args.warmup
    if cpu_before is not None and cpu_after is not None:
        result["server_cpu_ms_per_request"] = round((cpu_after - cpu_before) * 1000 / sent, 2)
    if xact_before is not None and xact_after is not None:
        result["db_transactions_per_request"] = round((xact_after - xact_before) / sent, 2)
    return result


def _signoff(kind: str, args: argparse.Namespace, slack: FakeSlack) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        url = harness.released_database(kind, workdir, "ingest", stack)
        settings = harness.signoff_settings(
            port=harness.free_port(),
            database_url=url,
            slack_api_url=slack.api_url,
            SIGNOFF_INPROCESS_WORKER="true" if args.worker else "false",
        )
        with harness.signoff(settings, workdir) as server:
            server.database_url = url
            result = _measure(server, args)
            result["peak_rss_mib"] = server.peak_rss_mib()
            result["server_errors"] = server.error_lines()
        return result


def _floor(kind: str, args: argparse.Namespace, floor: str = "ingest") -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        url = harness.database_url(kind, workdir, "ingestfloor", stack)
        port = harness.free_port()
        with harness.floor(floor, port, workdir, {"DATABASE_URL": url}) as server:
            server.database_url = url
            return _measure(server, args)


def _ratios(signoff: dict[str, Any], floor: dict[str, Any], suffix: str) -> dict[str, Any]:
    return {
        f"throughput_ratio_to_{suffix}": ratio(signoff["rate_per_s"], floor["rate_per_s"]),
        f"p99_ratio_to_{suffix}": ratio(signoff["p99_ms"], floor["p99_ms"]),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    results: dict[str, Any] = {}
    with FakeSlack() as slack:
        for kind in args.databases.split(","):
            signoff = _signoff(kind, args, slack)
            floor = _floor(kind, args)
            figures = {
                "signoff": signoff,
                "floor": floor,
                **_ratios(signoff, floor, "engine_floor"),
            }
            if kind == "postgres":
                raw = _floor(kind, args, "ingest_raw")
                figures["raw_floor"] = raw
                figures.update(_ratios(signoff, raw, "floor"))
            else:  # no raw driver for SQLite here: the engine floor is the floor
                figures.update(_ratios(signoff, floor, "floor"))
            results[kind] = figures
    return harness.report(
        "webhook_ingest",
        {
            "requests": args.requests,
            "warmup": args.warmup,
            "concurrency": args.concurrency,
            "databases": args.databases.split(","),
            "inprocess_worker": args.worker,
            "log_level": "INFO",
        },
        results,
        started,
    )


def parser() -> argparse.ArgumentParser:
    parser = harness.http_load_parser(__doc__)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--worker", action="store_true", help="keep the worker in-process")
    return parser


if __name__ == "__main__":
    harness.main(run, parser())
