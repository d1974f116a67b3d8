"""Refuse to serve on a PostgreSQL schema that is behind the code (run ``migrate`` first).

Several instances must not race to migrate a shared database at start, so on PostgreSQL the
migration is a release step (``Procfile``: ``release: python -m bot migrate``) and ``serve`` only
checks.
"""

from __future__ import annotations

import functools

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine

from bot.errors import SchemaOutOfDateError
from bot.store.database import alembic_config, sync_url


@functools.cache
def expected_heads(url: str) -> frozenset[str]:
    """The migration heads this code expects (read from the scripts once per process)."""
    return frozenset(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def schema_behind(connection: Connection, url: str) -> str | None:
    """Why the database is not at the code's migrations, or None when it is (for ``/readyz``,
    on a connection the caller already holds)."""
    current = set(MigrationContext.configure(connection).get_current_heads())
    heads = expected_heads(url)
    if current == heads:
        return None
    return f"at {sorted(current) or 'nothing'}, code expects {sorted(heads)}"


def require_current_schema(url: str) -> None:
    heads = set(expected_heads(url))
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    if current != heads:
        raise SchemaOutOfDateError(
            f"database schema is at {sorted(current) or 'nothing'}, code expects {sorted(heads)}: "
            "run `python -m bot migrate` first"
        )


def ensure_schema(url: str) -> None:
    """SQLite is migrated in place (one process owns the file); PostgreSQL is only checked."""
    from bot.store.database import is_sqlite, migrate

    if is_sqlite(url):
        migrate(url)
    else:
        require_current_schema(url)
