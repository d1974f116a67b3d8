"""Loading settings for a command-line entry point: every problem printed, then exit code 2.

Shared by ``python -m bot`` and its ``audit`` subcommands so both refuse a bad configuration the
same way (and neither imports the other).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn, TypeVar

import typer

from bot.errors import ConfigurationError
from bot.settings import Settings, load_settings

if TYPE_CHECKING:
    from bot.vendors.settings import VendorSettings

EXIT_CONFIG = 2
Loaded = TypeVar("Loaded")


def refuse(heading: str, problems: Sequence[str], *hints: str) -> NoReturn:
    """Print ``heading``, every problem as a bullet and any hints to stderr, then exit with the
    configuration exit code: one shape for every "Signoff cannot … yet" answer."""
    typer.echo(heading, err=True)
    for problem in problems:
        typer.echo(f"  - {problem}", err=True)
    for hint in hints:
        typer.echo(hint, err=True)
    raise typer.Exit(EXIT_CONFIG)


def _or_exit(load: Callable[[], Loaded], what: str) -> Loaded:
    try:
        return load()
    except ConfigurationError as exc:
        problems = exc.problems
    refuse(f"Signoff cannot start: {what}:", problems)


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
