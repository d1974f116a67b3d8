"""Refuse to serve on a PostgreSQL schema that is behind the code (run ``migrate`` first).

Several instances must not race to migrate a shared database at start, so on PostgreSQL the
migration is a release step (``Procfile``: ``release: python -m bot migrate``) and ``serve`` only
checks.
"""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from bot.errors import SchemaOutOfDateError
from bot.store.database import alembic_config, sync_url


def require_current_schema(url: str) -> None:
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
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
