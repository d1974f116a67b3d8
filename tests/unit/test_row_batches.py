"""Backfills read a query a batch at a time in key order: every row once, none skipped when a
batch updates its rows out of the query's conditions."""

from __future__ import annotations

import sqlalchemy as sa

from bot.store.row_batches import in_batches


def test_every_row_once_in_key_order_even_as_a_batch_updates_its_rows_away() -> None:
    engine = sa.create_engine("sqlite://")
    meta = sa.MetaData()
    table = sa.Table(
        "t", meta, sa.Column("id", sa.String, primary_key=True), sa.Column("done", sa.Boolean)
    )
    meta.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            table.insert(), [{"id": f"k{n}", "done": False} for n in (3, 1, 5, 2, 4)]
        )
        query = sa.select(table.c.id).where(table.c.done.is_(False))
        seen: list[str] = []
        for rows in in_batches(connection, query, table.c.id, size=2):
            assert len(rows) <= 2
            seen.extend(row[0] for row in rows)
            # The backfill's own update takes its rows out of the query: nothing is skipped.
            connection.execute(
                table.update().where(table.c.id.in_([row[0] for row in rows])).values(done=True)
            )
        assert seen == ["k1", "k2", "k3", "k4", "k5"]
        assert list(in_batches(connection, query, table.c.id)) == []
    engine.dispose()
