"""``.env.example`` is what the settings models say, and every setting in it is documented exactly
once in docs/settings.md: regenerate with `python -m bot env-example > .env.example`."""

from __future__ import annotations

import re
from pathlib import Path

from bot.entrypoints.env_example import render

ROOT = Path(__file__).resolve().parents[2]


def _names(text: str) -> list[str]:
    return re.findall(r"^# ([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE)


def test_the_committed_env_example_matches_the_settings_models() -> None:
    assert (ROOT / ".env.example").read_text() == render(), (
        "run `python -m bot env-example > .env.example`"
    )


def test_it_lists_every_setting_once_with_its_default() -> None:
    names = _names(render())
    assert len(names) == len(set(names))
    assert "# LOG_FORMAT=json" in render()
    assert "# SIGNOFF_ESCALATE_AFTER=2h" in render()
    assert "# SIGNOFF_REMINDERS=0.5,0.9" in render()


def test_every_setting_is_described_in_exactly_one_row_of_the_settings_reference() -> None:
    rows = [
        line.split("|")[1]
        for line in (ROOT / "docs" / "settings.md").read_text().splitlines()
        if line.startswith("| `")
    ]
    for name in _names(render()):
        holding = [row for row in rows if f"`{name}`" in row]
        assert len(holding) == 1, f"{name} is in {len(holding)} rows of docs/settings.md"
