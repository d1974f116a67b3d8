"""``.env`` reaches everything that reads the environment, not only the settings models: a
``work`` process whose ``PORT`` is only in ``.env`` serves its health endpoint on that port
(typer reads ``--port`` from the process environment, which python-dotenv fills at start)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.server_harness import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_a_port_set_only_in_dot_env_is_the_port_work_serves_health_on(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / ".env").write_text(
        f"PORT={port}\nHOST=127.0.0.1\nDATABASE_URL=sqlite:///{tmp_path / 'w.db'}\n"
    )
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "work"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and process.poll() is None and status != 200:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code
            except httpx.TransportError:
                time.sleep(0.1)
        assert status == 200, process.communicate()[1] if process.poll() is not None else status
    finally:
        process.terminate()
        process.wait(timeout=30)
