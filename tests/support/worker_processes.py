"""Running ``python -m bot work`` as real OS processes for race and crash tests.

Threads or tasks in one interpreter share a connection pool and an event loop and cannot be
killed half-way; separate processes against one PostgreSQL are what production runs, and
``SIGKILL`` is the crash a lease has to survive.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.support.fakes.http_sink import HttpSink
from tests.support.server_harness import ACTION_SECRET, WEBHOOK_SECRET

BASE_ENV = {
    "LOG_LEVEL": "WARNING",
    "SIGNOFF_SWEEP_INTERVAL": "0.2",
    "SIGNOFF_INPROCESS_WORKER": "true",
}


def worker_env(
    database_url: str, *, sink: HttpSink | None = None, **settings: str
) -> dict[str, str]:
    """The environment of a worker process: only what the test sets, no inherited Signoff or
    Slack settings from the developer's shell. With ``sink``, approved actions go to it and
    both secrets are the harness's, as for the in-thread server, so the processes and a
    ``start_server`` web process can share one database."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SIGNOFF_", "SLACK_", "OPENAI_", "DATABASE_URL"))
    }
    if sink is not None:
        inherited.update(
            SIGNOFF_ACTION_URL=sink.url,
            SIGNOFF_WEBHOOK_SECRET=WEBHOOK_SECRET,
            SIGNOFF_ACTION_SECRET=ACTION_SECRET,
        )
    return {**inherited, **BASE_ENV, "DATABASE_URL": database_url, **settings}


def start_worker(
    env: dict[str, str], workdir: Path, log_name: str, *, command: str = "work"
) -> subprocess.Popen[bytes]:
    """One ``python -m bot work`` (or ``serve``) process, run in ``workdir`` so no ``.env`` is
    picked up; its stderr goes to a file the test can show when something goes wrong."""
    with (workdir / f"{log_name}.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", command],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes], *, timeout: float = 15.0) -> int:
    """SIGTERM (the worker finishes its current step and exits), SIGKILL if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait(timeout=timeout)


@contextlib.contextmanager
def workers(
    count: int, env: dict[str, str], workdir: Path, *, prefix: str = "worker"
) -> Iterator[list[subprocess.Popen[bytes]]]:
    processes = [start_worker(env, workdir, f"{prefix}-{n}") for n in range(count)]
    try:
        yield processes
    finally:
        for process in processes:
            stop(process)


def logs(workdir: Path) -> str:
    """Every worker's output, for assertion messages."""
    return "\n".join(
        f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
        for path in sorted(workdir.glob("*.log"))
    )
