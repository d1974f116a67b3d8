"""The first five minutes: ``python -m bot`` with nothing configured opens the local workspace
(the sandbox); ``python -m bot demo`` prints what the samples decide."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from subprocess import CompletedProcess

import httpx
from rich.console import Console

from bot.entrypoints.demo.runner import load_sample_tickets, run_demo
from bot.store.item_states import ItemState
from tests.support.bot_cli import run_bot
from tests.support.server_harness import free_port, make_settings

ROOT = Path(__file__).resolve().parents[2]


def _clean_env() -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR"}
    return {k: v for k, v in os.environ.items() if k in keep} | {"COLUMNS": "200"}


def _bot(cwd: Path, *args: str, env: dict[str, str] | None = None) -> CompletedProcess[str]:
    """``python -m bot …`` in a scratch directory, wide enough for the demo's table."""
    return run_bot(*args, cwd=cwd, env={"COLUMNS": "200", **(env or {})})


def test_demo_routes_sample_tickets_both_ways() -> None:
    tickets = load_sample_tickets()
    assert len(tickets) >= 20
    console = Console(record=True, width=200)
    items = asyncio.run(run_demo(make_settings(), console=console))
    states = {item.state for item in items}
    assert len(items) == len(tickets)
    assert states == {ItemState.EXECUTED, ItemState.PENDING_REVIEW}
    for item in items:
        if item.proposed_action and item.proposed_action.get("kind") in {"refund", "credit"}:
            amount = item.proposed_action.get("amount")
            if amount is None or float(amount) > 50:
                assert item.state == ItemState.PENDING_REVIEW, item.external_id
    output = console.export_text()
    assert "heuristic" in output and "SLACK_BOT_TOKEN" in output


def test_python_m_bot_demo_prints_the_table_and_json(tmp_path: Path) -> None:
    result = _bot(tmp_path, "demo")
    assert result.returncode == 0, result.stderr
    assert "Signoff demo" in result.stdout
    assert "auto-executed" in result.stdout and "needs a human" in result.stdout
    assert "SIGNOFF_REVIEW_CHANNEL" in result.stdout
    assert not (tmp_path / "signoff.db").exists()  # the demo never touches a real database
    as_json = _bot(tmp_path, "demo", "--json")
    assert as_json.returncode == 0, as_json.stderr
    decisions = json.loads(as_json.stdout)
    assert len(decisions) == len(load_sample_tickets())
    assert {d["decision"] for d in decisions} == {"auto-executed", "needs a human"}


def test_python_m_bot_with_nothing_configured_opens_the_sandbox(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=_clean_env() | {"PYTHONPATH": str(ROOT), "PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        assert f"open http://127.0.0.1:{port}/" in first, first + process.stderr.read()
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert page.status_code == 200 and "Acting as" in page.text
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "signoff.db").exists()  # a throwaway database, gone at exit


def test_the_sandbox_refuses_when_slack_is_configured(tmp_path: Path) -> None:
    result = _bot(tmp_path, "sandbox", env={"SLACK_BOT_TOKEN": "xoxb-real-one"})
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN is set: the sandbox only runs without a real Slack" in result.stderr


def test_bad_configuration_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    result = _bot(tmp_path, "serve", env={"PORT": "abc", "DATABASE_URL": "mysql://x"})
    assert result.returncode == 2
    problems = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert len(problems) == 2 and "Traceback" not in result.stderr


def test_serve_without_slack_says_what_is_missing(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        cwd=tmp_path,
        env=_clean_env() | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN is not set" in result.stderr
    assert "python -m bot demo" in result.stderr
