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
from bot.store.migrations.erasure_trigger import SAME_FACTS, postgres_trigger, sqlite_trigger

revision: str = "0015"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_UPGRADE = sqlite_trigger(SAME_FACTS)
_SQLITE_DOWNGRADE = [
    "DROP TRIGGER audit_event_no_update",
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
]
_POSTGRES_UPGRADE = postgres_trigger(SAME_FACTS)
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
