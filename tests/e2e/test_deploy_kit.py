"""The deploy kit: ``Dockerfile`` and ``compose.yaml``. Docker cannot run on the test machines, so
the files' structure is checked here, hadolint lints the Dockerfile, and the commands the image
and each compose service run are taken from the files and run as they are written (``python -m
bot …`` with the service's environment), against real databases and the fake Slack."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.bot_cli import run_bot, run_python
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import BOT_TOKEN, REVIEW_CHANNEL, SIGNING_SECRET, free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _dockerfile_json(instruction: str) -> list[str]:
    found = re.findall(rf"^{instruction} (\[.*\])$", DOCKERFILE, flags=re.MULTILINE)
    assert found, f"no exec-form {instruction} in the Dockerfile"
    parsed: list[str] = yaml.safe_load(found[-1])
    return parsed


def test_the_image_is_multi_stage_and_runs_as_an_unprivileged_user() -> None:
    stages = re.findall(r"^FROM \S+", DOCKERFILE, flags=re.MULTILINE)
    assert len(stages) >= 2
    final = DOCKERFILE.rsplit("\nFROM ", 1)[1]
    user = re.findall(r"^USER (\S+)", final, flags=re.MULTILINE)
    assert user and user[-1].split(":")[0] not in {"root", "0"}
    assert "--require-hashes -r requirements.lock" in DOCKERFILE
    assert _dockerfile_json("CMD") == SERVICES["web"]["command"]


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run(
        [hadolint, "Dockerfile"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_migrates_once_before_web_and_worker_start_against_postgres() -> None:
    assert set(SERVICES) == {"db", "migrate", "web", "worker"}
    assert SERVICES["migrate"]["command"] == ["python", "-m", "bot", "migrate"]
    assert SERVICES["migrate"]["restart"] == "no"
    urls = {SERVICES[name]["environment"]["DATABASE_URL"] for name in ("migrate", "web", "worker")}
    assert len(urls) == 1 and next(iter(urls)).startswith("postgresql://")
    for name in ("web", "worker"):
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["db"]["condition"] == "service_healthy"
        assert "/readyz" in " ".join(SERVICES[name]["healthcheck"]["test"])
    assert SERVICES["web"]["command"] == ["python", "-m", "bot", "serve"]
    assert SERVICES["worker"]["command"] == ["python", "-m", "bot", "work"]
    # The web process leaves the items to the worker service.
    assert SERVICES["web"]["environment"]["SIGNOFF_INPROCESS_WORKER"] == "false"


def _argv(command: list[str]) -> list[str]:
    assert command[0] == "python"
    return [sys.executable, *command[1:]]


def _env(service: str, database_url: str, slack: FakeSlack, **extra: str) -> dict[str, str]:
    """The service's compose environment, with the database and Slack replaced by the test's."""
    settings = {k: str(v) for k, v in SERVICES[service].get("environment", {}).items()}
    settings.update(
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        SIGNOFF_REVIEW_CHANNEL=REVIEW_CHANNEL,
        HOST="127.0.0.1",
        **extra,
    )
    return {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **settings}


def _health_path(service: str, url: str) -> str:
    """The path compose's health check asks; the server must answer it (no fallback)."""
    test = " ".join(SERVICES[service]["healthcheck"]["test"])
    path: str = re.findall(r"/(?:readyz|healthz|livez)", test)[0]
    assert httpx.get(url + path, timeout=5).status_code != 404, f"{path} is not served"
    return path


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, "the process exited"
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("not ready in 90 s")


def _run_health_check(service: str, port: int, path: str, env: dict[str, str]) -> int:
    test = SERVICES[service]["healthcheck"]["test"]
    assert test[0] == "CMD"
    argv = [a.replace("/readyz", path) for a in _argv(test[1:])]
    return subprocess.run(argv, env={**env, "PORT": str(port)}, timeout=30).returncode


@pytest.mark.parametrize("service", ["web", "worker"])
def test_each_service_command_runs_after_migrate_and_passes_its_health_check(
    service: str, database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    migrate = subprocess.run(
        _argv(SERVICES["migrate"]["command"]),
        env=_env("migrate", database_url, slack),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    port = free_port()
    env = _env(service, database_url, slack, PORT=str(port))
    process = subprocess.Popen(
        _argv(SERVICES[service]["command"]),
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, process)
        assert _run_health_check(service, port, _health_path(service, url), env) == 0
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_manifest_command_prints_the_manifest_for_a_url_and_explains_socket_mode() -> None:
    printed = run_bot("manifest", "--url", "https://signoff.acme.test")
    manifest = yaml.safe_load(printed.stdout)  # JSON is YAML: either form pastes into Slack
    assert manifest["settings"]["interactivity"]["request_url"] == (
        "https://signoff.acme.test/slack/events"
    )
    socket = run_bot("manifest", "--socket-mode")
    assert yaml.safe_load(socket.stdout)["settings"]["socket_mode_enabled"] is True
    assert "connections:write" in socket.stderr and "SLACK_APP_TOKEN" in socket.stderr
    assert run_bot("manifest", "--url", "http://plain.test").returncode == 2


def test_postgres_without_its_driver_installed_is_one_clear_line(tmp_path: Path) -> None:
    """SQLite installs need no ``signoff[postgres]``; pointing one at PostgreSQL says what to
    install instead of failing on the first query. (``sys.modules[name] = None`` is how Python
    itself marks a module as not importable.)"""
    code = (
        "import sys; sys.modules['psycopg'] = None; sys.argv = ['bot', 'migrate'];"
        "from bot.entrypoints.cli import main; main()"
    )
    env = {"DATABASE_URL": "postgresql://signoff@127.0.0.1:5432/signoff"}
    result = run_python("-c", code, cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "pip install 'signoff[postgres]'" in result.stderr
