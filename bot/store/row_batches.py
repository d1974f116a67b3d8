"""Rows of a query a batch at a time, in key order: how migrations backfill a column.

Keyset pagination (``WHERE key > last ORDER BY key LIMIT n``) rather than OFFSET, so each batch
costs the same however far in it is, and rows the previous batch updated out of the query's
conditions are not skipped over. The key must be the query's first column.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

BATCH = 1000


def in_batches(
    connection: sa.Connection,
    query: sa.Select[Any],
    key: sa.ColumnElement[Any],
    *,
    size: int = BATCH,
) -> Iterator[Sequence[sa.Row[Any]]]:
    last: Any = None
    while True:
        page = query if last is None else query.where(key > last)
        rows = connection.execute(page.order_by(key).limit(size)).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]
