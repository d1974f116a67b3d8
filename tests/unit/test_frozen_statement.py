"""A frozen statement sends exactly the SQL of the statement it was made from, and is cached.

SQLAlchemy 2.0 gives PostgreSQL's and SQLite's own ``insert`` no cache key, so they were compiled
at every execution; the frozen text must have one, and must not change what reaches the
database (placeholders, casts, ``ON CONFLICT``, ``RETURNING``) on either dialect.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import psycopg
from sqlalchemy.dialects.sqlite import aiosqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import UpdateBase

from bot.store import ingest, run_claims, stat_tally
from bot.store.frozen_statement import FrozenStatement, freeze

PG: Dialect = psycopg.dialect()  # type: ignore[no-untyped-call]
LITE: Dialect = aiosqlite.dialect()
DIALECTS = [PG, LITE]

STATEMENTS = {
    "ingest batch": lambda name: ingest._unnest_insert(),
    "tally increment": stat_tally._increment,
    "run claim": run_claims._claim,
}


# The unnest batch insert is PostgreSQL's alone; SQLite inserts a batch's rows as they are.
CASES = [
    pytest.param(name, dialect, id=f"{name}-{dialect.name}")
    for name in sorted(STATEMENTS)
    for dialect in DIALECTS
    if name != "ingest batch" or dialect.name == "postgresql"
]


@pytest.mark.parametrize(("name", "dialect"), CASES)
def test_the_frozen_text_compiles_to_the_statements_own_sql(name: str, dialect: Dialect) -> None:
    statement = STATEMENTS[name](dialect.name)
    frozen = freeze(statement, dialect)
    assert str(frozen.compile(dialect=dialect)) == str(statement.compile(dialect=dialect))
    assert statement._generate_cache_key() is None  # why this module exists
    assert frozen._generate_cache_key() is not None


def test_parameters_keep_the_type_the_statement_gave_them() -> None:
    """A typed value (here a PostgreSQL array of JSONB) is converted by the same type."""
    statement = ingest._unnest_insert()
    frozen = freeze(statement, PG)
    original = statement.compile(dialect=PG)
    kept = {name: type(bind.type) for name, bind in frozen._bindparams.items()}
    assert kept == {original.bind_names[b]: type(b.type) for b in original.binds.values()}


def test_each_dialect_gets_its_own_statement_built_once() -> None:
    built: list[str] = []
    table = Table("t", MetaData(), Column("k", String, primary_key=True), Column("n", Integer))

    def build(dialect: str) -> UpdateBase:
        built.append(dialect)
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        return insert(table).on_conflict_do_nothing(index_elements=["k"])

    frozen = FrozenStatement(build)
    pg, lite = PG, LITE
    assert frozen.for_dialect(pg) is frozen.for_dialect(pg)
    assert frozen.for_dialect(lite) is frozen.for_dialect(lite)
    assert built == ["postgresql", "sqlite"]
    assert "ON CONFLICT (k) DO NOTHING" in str(frozen.for_dialect(lite).compile(dialect=lite))


def test_a_statement_with_a_literal_colon_is_refused_rather_than_misread() -> None:
    table = Table("t", MetaData(), Column("k", String, primary_key=True))
    statement = postgresql.insert(table).values(k=literal_column("'a\\:b'"))
    with pytest.raises(ValueError, match="escaped colons"):
        freeze(statement.on_conflict_do_nothing(), PG)
