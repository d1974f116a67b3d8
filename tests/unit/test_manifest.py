"""The manifest creates an app whose URLs, command, events and scopes match what the code does:
every Web API method the code calls has its scope, and no scope is asked for without a use."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from bot.slack.manifest import EXAMPLE_URL, build_manifest

ROOT = Path(__file__).resolve().parents[2]

# Web API methods (as slack_sdk calls them) → the bot scopes each needs (none: no scope needed).
SCOPE_OF: dict[str, tuple[str, ...]] = {
    "auth_test": (),
    "chat_delete": ("chat:write",),
    "chat_postMessage": ("chat:write",),
    "chat_postEphemeral": ("chat:write",),
    "chat_update": ("chat:write",),
    # Reading back audit anchors, from a public or a private audit channel.
    "conversations_history": ("channels:history", "groups:history"),
    # Erasure finds the thread lines under a card to rewrite them.
    "conversations_replies": ("channels:history", "groups:history"),
    "conversations_info": ("channels:read", "groups:read"),  # public and private channels
    "conversations_open": ("im:write",),
    "dnd_info": ("dnd:read",),
    # The weekly chart: getUploadURLExternal, the upload, completeUploadExternal.
    "files_upload_v2": ("files:write",),
    "usergroups_users_list": ("usergroups:read",),
    "users_info": ("users:read",),
    "users_profile_get": ("users.profile:read",),
    "views_open": (),
    "views_publish": (),
}


def _manifest() -> str:
    return (ROOT / "manifest.yml").read_text()


def _scopes(text: str) -> set[str]:
    block = text.split("bot:", 1)[1].split("settings:", 1)[0]
    return set(re.findall(r"^\s+- ([a-z_.:]+)", block, flags=re.MULTILINE))


def _methods_called() -> set[str]:
    called: set[str] = set()
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            called |= set(re.findall(r"client\.([a-z]+_[A-Za-z0-9_]+)\(", path.read_text()))
    return called


def test_manifest_points_everything_at_slack_events() -> None:
    text = _manifest()
    urls = re.findall(r"(?:url|request_url): (\S+)", text)
    assert len(urls) == 3 and all(u.endswith("/slack/events") for u in urls)
    assert "command: /signoff" in text
    for event in ("app_mention", "app_home_opened"):
        assert f"- {event}" in text
    assert "home_tab_enabled: true" in text
    assert re.search(r"interactivity:\s+is_enabled: true", text)


def test_every_method_the_code_calls_has_its_scope_and_no_scope_is_unused() -> None:
    called = _methods_called()
    unknown = called - set(SCOPE_OF)
    assert not unknown, f"add these methods to SCOPE_OF with their scope: {sorted(unknown)}"
    needed = {s for m in called for s in SCOPE_OF[m]} | {"commands", "app_mentions:read"}
    assert _scopes(_manifest()) == needed


def test_manifest_yml_is_what_the_manifest_command_prints_for_the_example_url() -> None:
    assert yaml.safe_load(_manifest()) == build_manifest(EXAMPLE_URL)


def test_the_manifest_for_a_url_points_there_and_socket_mode_has_no_urls() -> None:
    text = json.dumps(build_manifest("https://signoff.acme.test/"))
    assert text.count('"https://signoff.acme.test/slack/events"') == 3
    socket = build_manifest(None, socket_mode=True)
    assert "https://" not in json.dumps(socket)
    assert socket["settings"]["socket_mode_enabled"] is True
    assert socket["oauth_config"] == build_manifest(EXAMPLE_URL)["oauth_config"]


def test_procfile_migrates_on_release_serves_on_web_and_works_on_worker() -> None:
    lines = (ROOT / "Procfile").read_text().splitlines()
    assert "release: python -m bot migrate" in lines
    assert "web: python -m bot serve" in lines
    # Scaled separately from web (tests/e2e/test_split_deployment.py shows the split).
    assert "worker: python -m bot work" in lines
