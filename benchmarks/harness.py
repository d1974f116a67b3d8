"""Starting the real server as a subprocess, bench databases, machine facts, output.

Signoff runs exactly as an operator starts it (``python -m bot serve`` with settings in the
environment) in a scratch directory, so no developer ``.env`` leaks in; the floors run the same
way from :mod:`benchmarks.floor_servers`. The fakes stay in the driver process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.support.fakes.slack_api import FakeSlack

SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"
WEBHOOK_SECRET = "bench-webhook-secret-fedcba9876543210"
# Actions are signed with their own secret (start-up refuses an action URL without one).
ACTION_SECRET = "bench-action-secret-00112233445566778899"
BOT_TOKEN = "xoxb-bench-token-1234"
REVIEW_CHANNEL = "C0REVIEW"
REVIEWER = "U0REVIEWER"
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

# What the server inherits from this process; everything else it is told explicitly.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "PYTHONHASHSEED")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def emit(result: dict[str, Any]) -> None:
    """The one JSON object a benchmark prints, on its own line, last."""
    sys.stdout.write(json.dumps(result, sort_keys=False) + "\n")
    sys.stdout.flush()


def run_facts(started: float) -> dict[str, Any]:
    """How long the run took (since ``time.monotonic()`` was ``started``) and on what machine:
    the last two fields of every benchmark's report."""
    return {"seconds": round(time.monotonic() - started, 1), "machine": machine_facts()}


def report(
    benchmark: str, settings: dict[str, Any], results: Any, started: float
) -> dict[str, Any]:
    """One benchmark's JSON report: what ran, with which settings, what it measured, how long it
    took and on what machine."""
    return {
        "benchmark": benchmark,
        "settings": settings,
        "results": results,
        **run_facts(started),
    }


def bench_parser(
    description: str | None,
    *,
    tickets: int,
    llm_delay: float | None = None,
    concurrency: int | None = None,
    database: bool = True,
) -> argparse.ArgumentParser:
    """The options the end-to-end benchmarks share, each with the same meaning everywhere:
    ``--tickets`` to send, the fake OpenAI's ``--llm-delay``, ``--concurrency`` as
    ``SIGNOFF_LLM_CONCURRENCY`` and the ``--database`` kind; a benchmark names the ones it takes
    and its defaults."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--tickets", type=int, default=tickets)
    if llm_delay is not None:
        parser.add_argument("--llm-delay", type=float, default=llm_delay, help="seconds")
    if concurrency is not None:
        parser.add_argument(
            "--concurrency", type=int, default=concurrency, help="SIGNOFF_LLM_CONCURRENCY"
        )
    if database:
        parser.add_argument("--database", choices=["sqlite", "postgres"], default="postgres")
    return parser


def main(
    run: Callable[[argparse.Namespace], dict[str, Any]], parser: argparse.ArgumentParser
) -> None:
    """A benchmark's command line: parse, run, print its one JSON report."""
    emit(run(parser.parse_args()))


def http_load_parser(description: str | None) -> argparse.ArgumentParser:
    """The options of a benchmark that sends HTTP requests: how many, after how many warm-up
    requests, and how many at a time."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    return parser


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def pg_transactions(url: str) -> int | None:
    """Committed plus rolled-back transactions of the database so far (pg_stat_database)."""
    if not url.startswith("postgres") or not url.rsplit("/", 1)[1].startswith("signoff_bench"):
        return None
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", (name,)
        ).fetchone()
    return int(row[0]) if row else None


def postgres_version() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else None
    except psycopg.Error:
        return None


def machine_facts() -> dict[str, Any]:
    """Enough to tell two runs' machines apart: a figure means little without them."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _mem_total_gib(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgresql": postgres_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


@contextlib.contextmanager
def bench_database(purpose: str) -> Iterator[str]:
    """A PostgreSQL database created for one benchmark and dropped afterwards."""
    name = f"signoff_bench_{purpose}_{os.getpid()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(kind: str, workdir: Path, purpose: str, stack: contextlib.ExitStack) -> str:
    """A fresh database of ``kind`` (``sqlite`` or ``postgres``) that ``stack`` cleans up."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / (purpose + '.db')}"
    if kind == "postgres":
        return stack.enter_context(bench_database(purpose))
    raise ValueError(f"unknown database kind {kind!r}")


@dataclass
class EndToEnd:
    """What every end-to-end benchmark opens first: the fake Slack, a scratch directory that is
    the server's working directory (so no developer ``.env`` leaks in), and an exit stack for
    what the benchmark adds (databases, other fakes, processes), closed before the two."""

    slack: FakeSlack
    workdir: Path
    stack: contextlib.ExitStack

    def settings(self, database_url: str, **extra: str) -> dict[str, str]:
        """A Signoff on a free port and ``database_url`` that posts to this fake Slack."""
        return signoff_settings(
            port=free_port(), database_url=database_url, slack_api_url=self.slack.api_url, **extra
        )


@contextlib.contextmanager
def end_to_end() -> Iterator[EndToEnd]:
    """The fake Slack, scratch directory and exit stack of one end-to-end run."""
    with (
        FakeSlack() as slack,
        tempfile.TemporaryDirectory() as tmp,
        contextlib.ExitStack() as stack,
    ):
        yield EndToEnd(slack, Path(tmp), stack)


def released_database(kind: str, workdir: Path, purpose: str, stack: contextlib.ExitStack) -> str:
    """A fresh database of ``kind`` as a release leaves it: PostgreSQL migrated by the release
    step; SQLite left for ``serve``, which migrates it itself."""
    url = database_url(kind, workdir, purpose, stack)
    if kind == "postgres":
        migrate(url, workdir)
    return url


def migrate(url: str, workdir: Path) -> None:
    """``python -m bot migrate``: the release step, as an operator runs it."""
    subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        env=server_env({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"}),
        cwd=workdir,
        check=True,
        capture_output=True,
    )


def server_env(settings: dict[str, str]) -> dict[str, str]:
    env = {key: os.environ[key] for key in _INHERITED if key in os.environ}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    env.update(settings)
    return env


def signoff_settings(
    *, port: int, database_url: str, slack_api_url: str, **extra: str
) -> dict[str, str]:
    """The environment of a Signoff that reaches only the fakes on loopback."""
    settings = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api_url,
        "SIGNOFF_REVIEW_CHANNEL": REVIEW_CHANNEL,
        "SIGNOFF_REVIEWERS": REVIEWER,
        "SIGNOFF_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SIGNOFF_ACTION_SECRET": ACTION_SECRET,
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "INFO",
    }
    settings.update(extra)
    return settings


@dataclass
class ServerProcess:
    """A server subprocess; its output goes to a log file so a full pipe never blocks it."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    database_url: str = ""

    def _status_kib(self, field: str) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return None

    def peak_rss_mib(self) -> float | None:
        """VmHWM: the kernel's own high-water mark of resident memory, so no sample is missed."""
        kib = self._status_kib("VmHWM")
        return round(kib / 1024, 1) if kib is not None else None

    def cpu_seconds(self) -> float | None:
        """User plus system CPU the server has used so far (from /proc/<pid>/stat)."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            ticks = int(fields[11]) + int(fields[12])
            return ticks / os.sysconf("SC_CLK_TCK")
        return None

    def rss_mib(self) -> float | None:
        kib = self._status_kib("VmRSS")
        return round(kib / 1024, 1) if kib is not None else None

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def error_lines(self, limit: int = 5) -> list[str]:
        """The first few error records of the server's log (event and the exception's last
        line), so a failed run explains itself."""
        found: list[str] = []
        with contextlib.suppress(OSError):
            for line in self.log_path.read_text(errors="replace").splitlines():
                if '"level": "error"' not in line and not line.startswith("Traceback"):
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    found.append(line[:500])
                else:
                    trace = str(record.get("exception", "")).strip().splitlines()
                    last = [t for t in trace if t and not t.startswith("(Background")][-1:]
                    found.append(f"{record.get('event')}: {' '.join(last)}"[:500])
                if len(found) >= limit:
                    break
        return found

    def count_log(self, needle: str) -> int:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace").count(needle)
        return 0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        keep = os.environ.get("BENCH_KEEP_LOGS")
        if keep:  # the scratch directory goes away; the log is worth keeping when digging
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(self.log_path, Path(keep) / f"{int(time.time())}-{self.log_path.name}")


def start_process(
    args: list[str], env: dict[str, str], workdir: Path, port: int, *, ready_path: str
) -> ServerProcess:
    """Start ``args`` and wait until ``GET ready_path`` answers 200 (or the process dies)."""
    log_path = workdir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, *args], env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
        )
    server = ServerProcess(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + ready_path, timeout=2).status_code == 200:
                return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not become ready:\n{server.log_tail()}")


@contextlib.contextmanager
def running(
    args: list[str], env: dict[str, str], workdir: Path, port: int, *, ready_path: str
) -> Iterator[ServerProcess]:
    server = start_process(args, env, workdir, port, ready_path=ready_path)
    try:
        yield server
    finally:
        server.stop()


def signoff(settings: dict[str, str], workdir: Path) -> contextlib.AbstractContextManager[Any]:
    """``python -m bot serve`` with ``settings`` as its whole configuration."""
    return running(
        ["-m", "bot", "serve"],
        server_env(settings),
        workdir,
        int(settings["PORT"]),
        ready_path="/healthz",
    )


def worker_process(
    settings: dict[str, str], workdir: Path
) -> contextlib.AbstractContextManager[Any]:
    """``python -m bot work`` with ``settings``; ``PORT`` serves its ``/healthz`` (ready once
    it has warmed up and started its worker)."""
    return running(
        ["-m", "bot", "work"],
        server_env(settings),
        workdir,
        int(settings["PORT"]),
        ready_path="/healthz",
    )


def floor(
    kind: str, port: int, workdir: Path, extra: dict[str, str]
) -> contextlib.AbstractContextManager[Any]:
    """A floor server from :mod:`benchmarks.floor_servers` on the same uvicorn+FastAPI stack."""
    env = server_env({"PORT": str(port), **extra})
    return running(
        ["-m", "benchmarks.floor_servers", kind], env, workdir, port, ready_path="/ready"
    )
