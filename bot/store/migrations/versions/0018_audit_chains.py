"""Audit chains: ``audit_event.chain``, so the log is several hash chains with a lock each.

Why (issue 18): one chain under one cross-instance lock made every audited step of every
instance wait for the others. Every existing row becomes chain 0, keeping its id, links and
hashes, so an existing deployment verifies after the upgrade and its published anchors (which
named one head) still check against chain 0. New rows go to the chain of their item
(``bot.store.audit.chain_of``). The index finds a chain's head. The erasure trigger of 0015
now also refuses an UPDATE that moves a row to another chain.

Downgrade refuses while rows outside chain 0 exist: interleaved chains do not verify as one.

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-12 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSED = "audit_event is append-only (only erasing personal content is allowed)"
_SAME_FACTS = (
    "NEW.id = OLD.id AND NEW.at IS OLD.at AND NEW.item_id IS OLD.item_id "
    "AND NEW.actor IS OLD.actor AND NEW.event IS OLD.event AND NEW.prev_hash IS OLD.prev_hash "
    "AND NEW.row_hash IS OLD.row_hash AND NEW.key_id IS OLD.key_id "
    "AND NEW.detail_mac IS OLD.detail_mac AND OLD.item_id IS NOT NULL"
)
_SAME_CHAIN = " AND NEW.chain IS OLD.chain"


def _sqlite_trigger(facts: str) -> list[str]:
    return [
        "DROP TRIGGER audit_event_no_update",
        "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
        f"WHEN NOT ({facts} AND json_type(NEW.detail, '$._erased') IS NOT NULL) "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END",
    ]


def _postgres_trigger(facts: str) -> list[str]:
    same = facts.replace(" IS OLD.", " IS NOT DISTINCT FROM OLD.")
    return [
        "CREATE OR REPLACE FUNCTION signoff_audit_append_only() RETURNS trigger AS $$ BEGIN "
        f"IF TG_OP = 'UPDATE' AND {same} AND jsonb_exists(NEW.detail, '_erased') "
        f"THEN RETURN NEW; END IF; RAISE EXCEPTION '{_REFUSED}'; END; $$ LANGUAGE plpgsql",
    ]


def upgrade() -> None:
    # A constant default: no table rewrite on PostgreSQL, a plain ADD COLUMN on SQLite (no
    # batch copy, which would drop the triggers), and every existing row is chain 0.
    op.add_column(
        "audit_event",
        sa.Column("chain", sa.SmallInteger(), nullable=False, server_default="0"),
    )
    op.create_index("ix_audit_event_chain_id", "audit_event", ["chain", "id"])
    sqlite = op.get_bind().dialect.name == "sqlite"
    facts = _SAME_FACTS + _SAME_CHAIN
    for statement in _sqlite_trigger(facts) if sqlite else _postgres_trigger(facts):
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    others = bind.execute(sa.text("SELECT count(*) FROM audit_event WHERE chain <> 0")).scalar()
    if others:
        raise RuntimeError(
            f"{others} audit rows are outside chain 0: the log would no longer verify as one "
            "chain after this downgrade"
        )
    sqlite = bind.dialect.name == "sqlite"
    for statement in _sqlite_trigger(_SAME_FACTS) if sqlite else _postgres_trigger(_SAME_FACTS):
        op.execute(statement)
    op.drop_index("ix_audit_event_chain_id", table_name="audit_event")
    op.drop_column("audit_event", "chain")
