"""Erasure: ``item.erased_at``, and an audit log that allows exactly one kind of UPDATE.

The log stays append-only: DELETE is refused as before, and so is every UPDATE except one that
keeps every column but ``detail`` and leaves an ``_erased`` marker in it (what
``bot/store/audit_erasure.py`` writes). Why a narrowed trigger rather than a separate erasable
content table: the keyed chain already commits to ``detail`` through ``detail_mac`` (format 2
digests each field), so the row can keep its facts in clear and lose only its personal fields,
with no second table to join, migrate or keep consistent; and ``audit verify`` refuses an
erased row that no ``erased`` event accounts for, so this narrow door cannot be used quietly.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.column_types import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSED = "audit_event is append-only (only erasing personal content is allowed)"
_SAME_FACTS = (
    "NEW.id = OLD.id AND NEW.at IS OLD.at AND NEW.item_id IS OLD.item_id "
    "AND NEW.actor IS OLD.actor AND NEW.event IS OLD.event AND NEW.prev_hash IS OLD.prev_hash "
    "AND NEW.row_hash IS OLD.row_hash AND NEW.key_id IS OLD.key_id "
    "AND NEW.detail_mac IS OLD.detail_mac AND OLD.item_id IS NOT NULL"
)
_SQLITE_UPGRADE = [
    "DROP TRIGGER audit_event_no_update",
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    f"WHEN NOT ({_SAME_FACTS} AND json_type(NEW.detail, '$._erased') IS NOT NULL) "
    f"BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END",
]
_SQLITE_DOWNGRADE = [
    "DROP TRIGGER audit_event_no_update",
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
]
_PG_SAME_FACTS = _SAME_FACTS.replace(" IS OLD.", " IS NOT DISTINCT FROM OLD.")
_POSTGRES_UPGRADE = [
    "CREATE OR REPLACE FUNCTION signoff_audit_append_only() RETURNS trigger AS $$ BEGIN "
    f"IF TG_OP = 'UPDATE' AND {_PG_SAME_FACTS} AND jsonb_exists(NEW.detail, '_erased') "
    f"THEN RETURN NEW; END IF; RAISE EXCEPTION '{_REFUSED}'; END; $$ LANGUAGE plpgsql",
]
_POSTGRES_DOWNGRADE = [
    "CREATE OR REPLACE FUNCTION signoff_audit_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_event is append-only'; END; $$ LANGUAGE plpgsql",
]


def upgrade() -> None:
    op.add_column("item", sa.Column("erased_at", UTCDateTime(), nullable=True))
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _SQLITE_UPGRADE if sqlite else _POSTGRES_UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _SQLITE_DOWNGRADE if sqlite else _POSTGRES_DOWNGRADE:
        op.execute(statement)
    with op.batch_alter_table("item", recreate="never") as batch_op:
        batch_op.drop_column("erased_at")
