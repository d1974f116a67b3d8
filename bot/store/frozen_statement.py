"""Statements SQLAlchemy will not cache, compiled once per dialect instead.

SQLAlchemy 2.0 never caches the compiled form of PostgreSQL's or SQLite's own ``insert`` (their
``ON CONFLICT`` clause has no cache key, so the class sets ``inherit_cache = False``): every
execution compiles it again. Ingest's batch insert took 1 ms to compile, once per batch, about
a tenth of ``serve``'s CPU under webhook load (py-spy); the tally upsert runs in every step of
every item. ``FrozenStatement`` compiles such a statement once per dialect into the SQL text it
would send and runs that text with the same typed parameters: a ``text()`` has a cache key, so
SQLAlchemy and the driver reuse it like any other statement. What is sent to the database is
the statement's own SQL (a unit test compares the two for both dialects).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import BindTyping
from sqlalchemy.sql.dml import UpdateBase


class FrozenStatement:
    """``build(dialect_name)`` makes the statement (PostgreSQL and SQLite have their own
    ``insert``); ``for_dialect`` returns it as cached, typed text."""

    def __init__(self, build: Callable[[str], UpdateBase]) -> None:
        self._build = build
        self._frozen: dict[str, TextClause] = {}

    def for_dialect(self, dialect: Dialect) -> TextClause:
        frozen = self._frozen.get(dialect.name)
        if frozen is None:
            frozen = self._frozen[dialect.name] = freeze(self._build(dialect.name), dialect)
        return frozen


def freeze(statement: UpdateBase, dialect: Dialect) -> TextClause:
    """``statement`` as ``text()`` for ``dialect``: its SQL with ``:name`` placeholders, each
    bound with the type the statement gave it, so values are converted exactly as before.

    It is compiled with named placeholders and without the casts some drivers add to each
    placeholder; compiling the text for ``dialect`` adds those casts back."""
    # Every concrete dialect takes ``paramstyle``; the ``Dialect`` interface does not say so.
    plain = type(dialect)(paramstyle="named")  # type: ignore[call-arg]
    plain.bind_typing = BindTyping.NONE  # a fresh instance of our own, not the engine's
    compiled = statement.compile(dialect=plain)
    if compiled.positional or "\\:" in compiled.string:
        raise ValueError("a frozen statement needs named placeholders and no escaped colons")
    # ``::`` (a PostgreSQL cast) would read as a placeholder in text(): escape it.
    sql = compiled.string.replace("::", "\\:\\:")
    binds = [
        bindparam(compiled.bind_names[parameter], type_=parameter.type)
        for parameter in compiled.binds.values()
    ]
    return text(sql).bindparams(*binds)
