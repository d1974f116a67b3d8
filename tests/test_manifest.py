"""The manifest creates an app whose URLs, command and scopes match what the code listens for."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_manifest_points_everything_at_slack_events() -> None:
    text = (ROOT / "manifest.yml").read_text()
    urls = re.findall(r"(?:url|request_url): (\S+)", text)
    assert len(urls) == 3 and all(u.endswith("/slack/events") for u in urls)
    assert "command: /signoff" in text
    for scope in ("chat:write", "commands", "app_mentions:read"):
        assert f"- {scope}" in text
    assert "- app_mention" in text


def test_procfile_migrates_on_release_and_serves_on_web() -> None:
    lines = (ROOT / "Procfile").read_text().splitlines()
    assert "release: python -m bot migrate" in lines
    assert "web: python -m bot serve" in lines
