"""Install size, start-up time and resident memory at ready of ``python -m bot serve``.

Why: the issue's goal for the lighter PII detection is measured here, the same way for any
install: ``--python`` picks the interpreter of the venv to measure (default: this one) and
``--source`` the tree it imports ``bot`` from, so a venv built from an older commit is measured
with that commit's code. The server runs as an operator starts it, migrated SQLite, Slack on a
loopback fake; start-up is the time from spawning the process to the first ``/healthz`` 200.

    python -m benchmarks.footprint [--python .venv/bin/python] [--runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks import harness
from tests.support.fakes.slack_api import FakeSlack


def _du_mib(path: Path) -> float:
    """What ``du -s`` reports for the venv, in MiB (apparent sizes would hide sparse files)."""
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True)
    return round(int(out.stdout.split()[0]) / 1024, 1)


def _status_kib(pid: int, field: str) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU of ``pid`` so far: unlike wall time, not inflated by a busy machine."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def measure_once(python: str, source: Path, slack_api_url: str) -> dict[str, float]:
    """One cold start: seconds to ``/healthz`` 200, the CPU seconds spent by then, and VmRSS
    (MiB) at that moment."""
    with tempfile.TemporaryDirectory(prefix="signoff-footprint-") as tmp:
        workdir = Path(tmp)
        port = harness.free_port()
        settings = harness.signoff_settings(
            port=port,
            database_url=f"sqlite:///{workdir / 'footprint.db'}",
            slack_api_url=slack_api_url,
            LOG_LEVEL="WARNING",
        )
        env = harness.server_env(settings)
        env["PYTHONPATH"] = str(source)
        subprocess.run(
            [python, "-m", "bot", "migrate"], env=env, cwd=workdir, check=True, capture_output=True
        )
        started = time.monotonic()
        process = subprocess.Popen(
            [python, "-m", "bot", "serve"],
            env=env,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = started + 60
            while time.monotonic() < deadline and process.poll() is None:
                with contextlib.suppress(httpx.HTTPError):
                    url = f"http://127.0.0.1:{port}/healthz"
                    if httpx.get(url, timeout=2).status_code == 200:
                        ready = time.monotonic() - started
                        rss = _status_kib(process.pid, "VmRSS") or 0
                        return {
                            "startup_seconds": round(ready, 2),
                            "startup_cpu_seconds": round(_cpu_seconds(process.pid), 2),
                            "rss_mib": round(rss / 1024, 1),
                        }
                time.sleep(0.02)
            raise RuntimeError(f"serve did not become ready (exit code {process.poll()})")
        finally:
            process.terminate()
            process.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter of the venv")
    parser.add_argument("--source", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    prefix = Path(
        subprocess.run(
            [args.python, "-c", "import sys; print(sys.prefix)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    runs: list[dict[str, float]] = []
    with FakeSlack() as slack:
        for _ in range(max(1, args.runs)):
            runs.append(measure_once(args.python, Path(args.source), slack.api_url))
    result: dict[str, Any] = {
        "benchmark": "footprint",
        "venv": str(prefix),
        "venv_mib": _du_mib(prefix),
        "startup_seconds_median": statistics.median(r["startup_seconds"] for r in runs),
        "startup_cpu_seconds_median": statistics.median(r["startup_cpu_seconds"] for r in runs),
        "rss_at_ready_mib_median": statistics.median(r["rss_mib"] for r in runs),
        "runs": runs,
        "cpus": os.cpu_count(),
    }
    harness.emit(result)


if __name__ == "__main__":
    main()
