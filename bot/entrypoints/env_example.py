"""``.env.example``, generated from the settings models so it cannot fall behind them.

``python -m bot env-example > .env.example`` writes it; ``tests/unit/test_env_example.py`` fails
when the committed file and the models differ. Every line is commented out: an empty value is
not "unset" to pydantic-settings (an empty ``SLACK_APP_TOKEN=`` would turn on Socket Mode), so
a person uncomments only what they set. What each setting means is in ``docs/settings.md``.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from pydantic_settings import BaseSettings

from bot.durations import format_duration
from bot.settings import Settings
from bot.vendors.settings import VendorSettings

_HEADER = """\
# Signoff's settings, every one of them, with its default. Generated from the settings models by
# `python -m bot env-example` (a test fails when they drift apart); each setting is described in
# docs/settings.md. Copy this file to .env, then uncomment and fill in what you use: a line left
# commented keeps its default.
"""
_SECTIONS: tuple[tuple[str, type[BaseSettings]], ...] = (
    ("Signoff (bot/settings.py)", Settings),
    ("Vendors (bot/vendors/settings.py), see docs/connectors.md", VendorSettings),
)


def _value(default: object) -> str:
    if default is None:
        return ""
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, timedelta):
        return format_duration(default)
    if isinstance(default, frozenset | set):
        return ",".join(sorted(str(v) for v in default))
    if isinstance(default, tuple | list):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in default)
    if isinstance(default, float | Decimal):
        return f"{default:g}" if isinstance(default, float) else str(default)
    return str(default)


def render() -> str:
    """The whole file: a header, then one ``# NAME=default`` line per setting, model by model."""
    parts = [_HEADER]
    for title, model in _SECTIONS:
        parts.append(f"\n# --- {title}\n")
        for name, field in model.model_fields.items():
            parts.append(f"# {field.alias or name.upper()}={_value(field.default)}\n")
    return "".join(parts)
