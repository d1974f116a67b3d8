"""``make bench``: every benchmark, one after another, into ``benchmarks/results/latest.json``.

Each benchmark runs in its own process and prints one JSON object. The burst benchmark spends
most of its time waiting out Slack's one-message-per-second limit (300 cards take five minutes
whatever Signoff does), so it starts first and, once its tickets are in, the others run while its
cards trickle out; that keeps ``make bench`` under ten minutes on two cores. The table printed at
the end is the one in the README.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from benchmarks import harness
from benchmarks.burst import INGESTED_MARKER

RESULTS = Path(__file__).resolve().parent / "results"

FULL: dict[str, list[str]] = {
    "burst": [],
    "ack_latency": [],
    "webhook_ingest": ["--requests", "3000", "--warmup", "100"],
    "pipeline_throughput": ["--max-seconds", "120"],
    "scale": ["--stats-samples", "20"],
    "card_latency": ["--tickets", "100"],
    "scale_out": ["--tickets", "1000", "--processes", "1,2,4"],
}
QUICK: dict[str, list[str]] = {
    "burst": ["--tickets", "30", "--seconds", "3", "--rate", "5"],
    "ack_latency": [
        "--requests",
        "500",
        "--items",
        "50",
        "--backlog",
        "16",
        "--light-requests",
        "100",
    ],
    "webhook_ingest": ["--requests", "500"],
    "pipeline_throughput": ["--tickets", "100"],
    "scale": ["--items", "50000", "--samples", "30", "--stats-samples", "20"],
    "card_latency": ["--tickets", "20"],
    "scale_out": ["--tickets", "200", "--processes", "1,2,4"],
}


def _parse(name: str, stdout: str, returncode: int) -> dict[str, Any]:
    lines = [line for line in stdout.strip().splitlines() if line.startswith("{")]
    if returncode != 0 or not lines:
        return {"benchmark": name, "error": f"exited with {returncode}", "output": stdout[-2000:]}
    parsed: dict[str, Any] = json.loads(lines[-1])
    return parsed


def _run(name: str, args: list[str]) -> dict[str, Any]:
    print(f"== {name} {' '.join(args)}", file=sys.stderr, flush=True)
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", *args],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    print(f"   {name} took {time.monotonic() - began:.0f}s", file=sys.stderr, flush=True)
    return _parse(name, done.stdout, done.returncode)


class Background:
    """A benchmark in a subprocess whose stderr is echoed; ``ready`` is set on ``marker``."""

    def __init__(self, name: str, args: list[str], marker: str) -> None:
        print(f"== {name} {' '.join(args)} (in the background)", file=sys.stderr, flush=True)
        self.name = name
        self.ready = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"benchmarks.{name}", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        self._echo = threading.Thread(
            target=self._watch, args=(self.process.stderr, marker), daemon=True
        )
        self._echo.start()

    def _watch(self, stream: IO[str], marker: str) -> None:
        for line in stream:
            if marker in line:
                self.ready.set()
            sys.stderr.write(f"   [{self.name}] {line}")
        self.ready.set()

    def result(self) -> dict[str, Any]:
        stdout, _ = self.process.communicate()
        return _parse(self.name, stdout, self.process.returncode)


def _get(data: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)  # type: ignore[assignment]
    return data


def summary(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The README table: one row per figure, with its goal and its floor ratio where there is
    one."""
    ack = results.get("ack_latency", {})
    ingest = results.get("webhook_ingest", {})
    pipe = results.get("pipeline_throughput", {})
    scale = results.get("scale", {})
    burst = results.get("burst", {})
    sig = ("results", "signoff")
    rows = [
        {
            "what": "ack: Approve click, p99 (median)",
            "value": f"{_get(ack, *sig, 'approve', 'p99_ms')} ms "
            f"({_get(ack, *sig, 'approve', 'median_ms')} ms)",
            "goal": "p99 < 50 ms; ≤ 1.5x floor",
            "floor_ratio": _get(ack, "results", "approve_p99_ratio_to_floor"),
        },
        {
            "what": "ack: /signoff pending, p99 (median)",
            "value": f"{_get(ack, *sig, 'pending', 'p99_ms')} ms "
            f"({_get(ack, *sig, 'pending', 'median_ms')} ms)",
            "goal": "p99 < 50 ms; ≤ 1.5x floor",
            "floor_ratio": _get(ack, "results", "pending_p99_ratio_to_floor"),
        },
        {
            "what": "ack, 5 clients: Approve p99 (median)",
            "value": f"{_get(ack, *sig, 'light', 'approve', 'p99_ms')} ms "
            f"({_get(ack, *sig, 'light', 'approve', 'median_ms')} ms)",
            "goal": "p99 < 50 ms; ≤ 1.5x floor",
            "floor_ratio": _get(ack, "results", "light_approve_p99_ratio_to_floor"),
        },
        {
            "what": "ack, 5 clients: /signoff pending p99 (median)",
            "value": f"{_get(ack, *sig, 'light', 'pending', 'p99_ms')} ms "
            f"({_get(ack, *sig, 'light', 'pending', 'median_ms')} ms)",
            "goal": "p99 < 50 ms; ≤ 1.5x floor",
            "floor_ratio": _get(ack, "results", "light_pending_p99_ratio_to_floor"),
        },
        {
            "what": "ack: answers over 3 s (approve + pending)",
            "value": (_get(ack, *sig, "approve", "over_3s") or 0)
            + (_get(ack, *sig, "pending", "over_3s") or 0),
            "goal": "0",
            "floor_ratio": None,
        },
        {
            "what": "/signoff pending answer at response_url under load, p99",
            "value": f"{_get(ack, *sig, 'pending_answer', 'p99_ms')} ms",
            "goal": "—",
            "floor_ratio": None,
        },
    ]
    for kind in ("sqlite", "postgres"):
        floor = "raw asyncpg floor" if kind == "postgres" else "engine floor"
        rows.append(
            {
                "what": f"webhook ingest on {kind}: rate, p99 (ratio to the {floor})",
                "value": f"{_get(ingest, 'results', kind, 'signoff', 'rate_per_s')}/s, "
                f"{_get(ingest, 'results', kind, 'signoff', 'p99_ms')} ms; p99 "
                f"{_get(ingest, 'results', kind, 'p99_ratio_to_floor')}x floor",
                "goal": "≥ 0.8x floor, p99 ≤ 1.5x floor",
                "floor_ratio": _get(ingest, "results", kind, "throughput_ratio_to_floor"),
            }
        )
    rows.append(
        {
            "what": "webhook ingest on postgres: ratio to the engine floor (second line)",
            "value": f"{_get(ingest, 'results', 'postgres', 'floor', 'rate_per_s')}/s engine, "
            f"{_get(ingest, 'results', 'postgres', 'raw_floor', 'rate_per_s')}/s raw",
            "goal": "—",
            "floor_ratio": _get(ingest, "results", "postgres", "throughput_ratio_to_engine_floor"),
        }
    )
    cards = results.get("card_latency", {})
    scale_out = results.get("scale_out", {})
    rows += [
        {
            "what": "time to a card (webhook → chat.postMessage), p99 (median), LLM 0.5 s",
            "value": f"{_get(cards, 'results', 'p99_ms')} ms ({_get(cards, 'results', 'median_ms')}"
            f" ms)",
            "goal": f"≤ {_get(cards, 'results', 'goal_p99_ms')} ms (LLM + 250 ms)",
            "floor_ratio": None,
        },
        {
            "what": "executions/s with 1 / 2 / 4 worker processes (ratio to one)",
            "value": " / ".join(
                f"{rate} ({_get(scale_out, 'results', 'ratio_to_one_process', n)}x)"
                for n, rate in (_get(scale_out, "results", "executed_per_s") or {}).items()
            ),
            "goal": "2 ≥ 1.7x 1; 4 ≥ 2",
            "floor_ratio": None,
        },
    ]
    rows += [
        {
            "what": "pipeline: assessed per second (ratio to 16/s ceiling)",
            "value": f"{_get(pipe, 'results', 'assessed_per_s')}/s "
            f"({_get(pipe, 'results', 'ratio_to_ceiling')})",
            "goal": "≥ 0.9 of ceiling",
            "floor_ratio": None,
        },
        {
            "what": "scale (1M items): /signoff pending answer p99",
            "value": f"{_get(scale, 'results', 'pending', 'p99_ms')} ms",
            "goal": "< 100 ms",
            "floor_ratio": None,
        },
        {
            "what": "scale (1M items): /signoff stats answer p99",
            "value": f"{_get(scale, 'results', 'stats', 'p99_ms')} ms "
            f"({_get(scale, 'results', 'stats', 'unanswered')} unanswered)",
            "goal": "< 500 ms",
            "floor_ratio": None,
        },
        {
            "what": "burst: items lost / duplicate cards / other messages (digest)",
            "value": f"{_get(burst, 'results', 'items_lost')} / "
            f"{_get(burst, 'results', 'duplicate_cards')} / "
            f"{_get(burst, 'results', 'other_messages')}",
            "goal": "0 / 0 / —",
            "floor_ratio": None,
        },
        {
            "what": "burst: all cards visible after (lower bound)",
            "value": f"{_get(burst, 'results', 'all_visible_after_s')} s "
            f"({_get(burst, 'results', 'lower_bound_s')} s), "
            f"{_get(burst, 'results', 'calls_per_card')} calls/card",
            "goal": "no retry storm",
            "floor_ratio": None,
        },
        {
            "what": "peak RSS of serve during 1-3",
            "value": f"{peak_rss(results)} MiB",
            "goal": "< 200 MB",
            "floor_ratio": None,
        },
    ]
    return rows


def peak_rss(results: dict[str, dict[str, Any]]) -> float | None:
    values = [
        _get(results.get("ack_latency", {}), "results", "signoff", "peak_rss_mib"),
        _get(results.get("webhook_ingest", {}), "results", "sqlite", "signoff", "peak_rss_mib"),
        _get(results.get("webhook_ingest", {}), "results", "postgres", "signoff", "peak_rss_mib"),
        _get(results.get("pipeline_throughput", {}), "results", "peak_rss_mib"),
    ]
    found = [v for v in values if isinstance(v, int | float)]
    return max(found) if found else None


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| figure | result | goal | ratio to floor |", "|---|---|---|---|"]
    for row in rows:
        floor = "—" if row["floor_ratio"] is None else f"{row['floor_ratio']}x"
        lines.append(f"| {row['what']} | {row['value']} | {row['goal']} | {floor} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a quick look")
    parser.add_argument("--only", help="comma-separated benchmark names")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    chosen = args.only.split(",") if args.only else list(sizes)
    began = time.monotonic()
    results: dict[str, dict[str, Any]] = {}
    background = None
    if "burst" in chosen:
        background = Background("burst", sizes["burst"], INGESTED_MARKER)
        background.ready.wait()
    for name in chosen:
        if name != "burst":
            results[name] = _run(name, sizes[name])
    if background is not None:
        results["burst"] = background.result()
        results["burst"]["ran_beside"] = [n for n in chosen if n != "burst"]
    rows = summary(results)
    report = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "total_seconds": round(time.monotonic() - began, 1),
        "machine": harness.machine_facts(),
        "summary": rows,
        "benchmarks": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(rows))
    print(f"\nwritten to {args.output} in {report['total_seconds']} s", file=sys.stderr)


if __name__ == "__main__":
    main()
