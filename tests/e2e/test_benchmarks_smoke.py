"""Each benchmark script runs at a tiny size and prints one JSON object with its figures.

No timing is asserted (benchmarks are not tests); this only keeps the scripts from rotting as
the code they drive changes. The scale and scale-out benchmarks and the raw-driver ingest floor
need PostgreSQL and run when ``TEST_DATABASE_URL`` points at one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_benchmark(name: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines, f"no output; stderr: {done.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    assert result["benchmark"] == name
    assert {"settings", "results", "machine"} <= result.keys()
    assert result["machine"]["cores"] >= 1
    return result


def test_ack_latency_reports_both_kinds_of_request_and_the_floor() -> None:
    result = run_benchmark(
        "ack_latency",
        *("--requests", "20", "--warmup", "2", "--concurrency", "4", "--items", "3"),
        *("--backlog", "2", "--database", "sqlite", "--llm-delay", "0.1"),
        *("--executor-delay", "0.1", "--light-requests", "6", "--light-concurrency", "2"),
    )
    signoff = result["results"]["signoff"]
    for kind in ("approve", "pending"):
        assert signoff[kind]["requests"] == 10
        assert signoff[kind]["statuses"] == {"200": 10}
        assert {"median_ms", "p99_ms", "over_3s"} <= signoff[kind].keys()
        assert result["results"]["floor"][kind]["statuses"] == {"200": 10}
    assert signoff["pending_answer"]["count"] == 10
    assert signoff["light"]["approve"]["statuses"] == {"200": 3}
    assert signoff["light"]["pending_answer"]["count"] == 3
    assert signoff["peak_rss_mib"] > 0
    assert "approve_p99_ratio_to_floor" in result["results"]


def test_webhook_ingest_stores_every_ticket_and_measures_the_floor() -> None:
    result = run_benchmark(
        "webhook_ingest", "--requests", "20", "--warmup", "2", "--concurrency", "4",
        "--databases", "sqlite",
    )  # fmt: skip
    sqlite = result["results"]["sqlite"]
    assert sqlite["signoff"]["statuses"] == {"202": 20}
    assert sqlite["floor"]["statuses"] == {"202": 20}
    assert {"rate_per_s", "p99_ms", "median_ms"} <= sqlite["signoff"].keys()
    assert "throughput_ratio_to_floor" in sqlite


def _postgres() -> dict[str, str]:
    database = os.environ.get("TEST_DATABASE_URL")
    if not database:
        pytest.skip("TEST_DATABASE_URL is not set: this benchmark needs PostgreSQL")
    return {"BENCH_PG_URL": database.replace("postgres://", "postgresql://", 1)}


def test_webhook_ingest_on_postgres_measures_both_floors() -> None:
    env = _postgres()
    result = run_benchmark(
        "webhook_ingest", "--requests", "20", "--warmup", "2", "--concurrency", "4",
        "--databases", "postgres", env=env,
    )  # fmt: skip
    postgres = result["results"]["postgres"]
    for line in ("signoff", "floor", "raw_floor"):
        assert postgres[line]["statuses"] == {"202": 20}
    assert {"throughput_ratio_to_floor", "throughput_ratio_to_engine_floor"} <= postgres.keys()


def test_card_latency_times_each_card_from_its_webhook() -> None:
    result = run_benchmark(
        "card_latency", "--tickets", "3", "--warmup", "1", "--gap", "0.2",
        "--llm-delay", "0.05", "--database", "sqlite",
    )  # fmt: skip
    figures = result["results"]
    assert figures["count"] == 3 and figures["no_card"] == 0
    assert figures["p99_ms"] >= 50  # a card cannot come before the LLM answered
    assert {"overhead_p99_ms", "goal_p99_ms"} <= figures.keys()


def test_scale_out_executes_every_ticket_with_two_worker_processes() -> None:
    env = _postgres()
    result = run_benchmark(
        "scale_out", "--tickets", "8", "--processes", "2", "--llm-delay", "0.05",
        "--action-delay", "0.01", "--max-seconds", "40", env=env,
    )  # fmt: skip
    # Two worker processes only: each process start costs seconds, and the smoke test is bounded.
    run = result["results"]["by_processes"]["2"]
    assert run["final_states"] == {"executed": 8}
    assert run["actions_executed"] == 8
    assert run["executed_per_s"] > 0


def test_pipeline_throughput_assesses_every_ticket_with_the_llm() -> None:
    result = run_benchmark(
        "pipeline_throughput", "--tickets", "10", "--warmup", "2", "--llm-delay", "0.05",
        "--database", "sqlite",
    )  # fmt: skip
    figures = result["results"]
    assert figures["llm_calls"] == 10
    assert sum(figures["final_states"].values()) == 10
    assert figures["all_assessed_after_s"] is not None
    assert {"assessed_per_s", "ratio_to_ceiling", "ceiling_per_s"} <= figures.keys()


def test_burst_loses_nothing_at_a_tiny_size() -> None:
    result = run_benchmark(
        "burst", "--tickets", "6", "--seconds", "0.5", "--rate", "20", "--database", "sqlite"
    )
    figures = result["results"]
    assert figures["items_lost"] == 0
    assert figures["cards_visible"] == 6
    assert {"all_visible_after_s", "post_message_429s", "duplicate_cards", "other_messages"} <= (
        figures.keys()
    )
    assert figures["duplicate_cards"] == 0


def test_scale_answers_commands_and_explains_its_plans() -> None:
    result = run_benchmark(
        "scale", "--items", "500", "--samples", "3", "--stats-samples", "1", env=_postgres()
    )
    figures = result["results"]
    assert figures["seed"]["items"] == 500
    assert figures["pending"]["count"] == 3
    assert figures["stats"]["count"] == 1
    assert figures["seed"]["tally_rows"] > 0
    assert {"pending_count", "pending_page", "stats_median_wait_7d"} <= figures["plans"].keys()
    assert all(plan["plan"] for plan in figures["plans"].values())
