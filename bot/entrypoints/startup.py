"""Loading settings for a command-line entry point: every problem printed, then exit code 2.

Shared by ``python -m bot`` and its ``audit`` subcommands so both refuse a bad configuration the
same way (and neither imports the other).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import typer

from bot.errors import ConfigurationError
from bot.settings import Settings, load_settings

if TYPE_CHECKING:
    from bot.vendors.settings import VendorSettings

EXIT_CONFIG = 2
Loaded = TypeVar("Loaded")


def _or_exit(load: Callable[[], Loaded], what: str) -> Loaded:
    try:
        return load()
    except ConfigurationError as exc:
        typer.echo(f"Signoff cannot start: {what}:", err=True)
        for problem in exc.problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None


def settings_or_exit() -> Settings:
    return _or_exit(_settings_with_driver, "the configuration has problems")


def _settings_with_driver() -> Settings:
    """PostgreSQL's driver is the ``signoff[postgres]`` extra: say so at start rather than with
    a ModuleNotFoundError from the first query."""
    import importlib.util

    settings = load_settings()
    postgres = settings.database_url.startswith(("postgres://", "postgresql"))
    if postgres and importlib.util.find_spec("psycopg") is None:
        raise ConfigurationError(
            [
                "DATABASE_URL is PostgreSQL but its driver is not installed: "
                "pip install 'signoff[postgres]'"
            ]
        )
    return settings


def vendor_settings_or_exit() -> VendorSettings:
    from bot.vendors.settings import load_vendor_settings

    return _or_exit(load_vendor_settings, "the vendor settings have problems")
