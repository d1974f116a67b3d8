"""Audit chains: ``audit_event.chain``, so the log is several hash chains with a lock each.

Why (issue 18): one chain under one cross-instance lock made every audited step of every
instance wait for the others. Every existing row becomes chain 0, keeping its id, links and
hashes, so an existing deployment verifies after the upgrade and its published anchors (which
named one head) still check against chain 0. New rows go to the chain of their item
(``bot.store.audit.chain_of``). The index finds a chain's head. The erasure trigger of 0015
now also refuses an UPDATE that moves a row to another chain.

On PostgreSQL ``signoff_audit_chain_head(class, chain)`` takes a chain's lock and returns its
head in one round trip (a VOLATILE function's query takes a fresh snapshot, after the lock), so
the lock is held for one round trip less; the lock is held to commit as before.

``stat_tally.shard`` (in the primary key): a live increment goes to the shard of the audit chain
its transaction holds (``bot.store.stat_tally``), so transactions of different chains no longer
queue on one hot tally row (the next serialisation point once the chains were split). Readers
sum over shards; existing rows are shard 0.

Downgrade refuses while audit rows outside chain 0 exist (interleaved chains do not verify as
one), and folds the tally shards back into one row per key.

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-12 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.column_types import UTCDateTime
from bot.store.migrations.erasure_trigger import SAME_FACTS, postgres_trigger, sqlite_trigger

revision: str = "0018"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SAME_CHAIN = " AND NEW.chain IS OLD.chain"


_HEAD_FUNCTION = (
    "CREATE OR REPLACE FUNCTION signoff_audit_chain_head(lock_class integer, chain_no integer) "
    "RETURNS TABLE (head_hash varchar, head_key varchar) AS $$ BEGIN "
    "PERFORM pg_advisory_xact_lock(lock_class, chain_no); "
    "RETURN QUERY SELECT a.row_hash, a.key_id FROM audit_event a WHERE a.chain = chain_no "
    "ORDER BY a.id DESC LIMIT 1; END; $$ LANGUAGE plpgsql VOLATILE"
)


def _tally_table(name: str, *, sharded: bool) -> None:
    shard = [sa.Column("shard", sa.SmallInteger(), nullable=False, server_default="0")]
    op.create_table(
        name,
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=48), nullable=False),
        *(shard if sharded else []),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "hour", "category", "metric", *(["shard"] if sharded else []), name=f"{name}_pkey"
        ),
    )


def _replace_tally(*, sharded: bool) -> None:
    """A new ``stat_tally`` with (or without) the shard in its key, filled from the old one."""
    op.rename_table("stat_tally", "stat_tally_old")
    if op.get_bind().dialect.name == "postgresql":  # the key's index keeps its name
        op.execute(
            "ALTER TABLE stat_tally_old RENAME CONSTRAINT stat_tally_pkey TO stat_tally_old_pkey"
        )
    _tally_table("stat_tally", sharded=sharded)
    op.execute(
        "INSERT INTO stat_tally (hour, category, metric, count, total) "
        "SELECT hour, category, metric, sum(count), sum(total) FROM stat_tally_old "
        "GROUP BY hour, category, metric"
    )
    op.drop_table("stat_tally_old")


def upgrade() -> None:
    # A constant default: no table rewrite on PostgreSQL, a plain ADD COLUMN on SQLite (no
    # batch copy, which would drop the triggers), and every existing row is chain 0.
    op.add_column(
        "audit_event",
        sa.Column("chain", sa.SmallInteger(), nullable=False, server_default="0"),
    )
    op.create_index("ix_audit_event_chain_id", "audit_event", ["chain", "id"])
    sqlite = op.get_bind().dialect.name == "sqlite"
    facts = SAME_FACTS + _SAME_CHAIN
    for statement in sqlite_trigger(facts) if sqlite else postgres_trigger(facts):
        op.execute(statement)
    if not sqlite:
        op.execute(_HEAD_FUNCTION)
    _replace_tally(sharded=True)


def downgrade() -> None:
    bind = op.get_bind()
    others = bind.execute(sa.text("SELECT count(*) FROM audit_event WHERE chain <> 0")).scalar()
    if others:
        raise RuntimeError(
            f"{others} audit rows are outside chain 0: the log would no longer verify as one "
            "chain after this downgrade"
        )
    sqlite = bind.dialect.name == "sqlite"
    if not sqlite:
        op.execute("DROP FUNCTION signoff_audit_chain_head(integer, integer)")
    for statement in sqlite_trigger(SAME_FACTS) if sqlite else postgres_trigger(SAME_FACTS):
        op.execute(statement)
    op.drop_index("ix_audit_event_chain_id", table_name="audit_event")
    op.drop_column("audit_event", "chain")
    _replace_tally(sharded=False)
