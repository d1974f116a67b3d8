"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL: a
column or index added to one and not the other fails here, not in production."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import bot.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from bot.store.database import sync_url


def test_the_migrated_schema_has_no_difference_from_the_models(database_url: str) -> None:
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    assert differences == []
    assert {"stat_tally", "decision", "item"} <= set(SQLModel.metadata.tables)
