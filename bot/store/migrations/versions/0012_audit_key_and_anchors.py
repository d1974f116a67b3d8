"""The keyed audit chain (key_id, detail_mac) and the record of anchors published outside the
database, append-only like the log itself.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.column_types import AutoIncrementId, UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_anchor_no_update BEFORE UPDATE ON audit_anchor "
    "BEGIN SELECT RAISE(ABORT, 'audit_anchor is append-only'); END",
    "CREATE TRIGGER audit_anchor_no_delete BEFORE DELETE ON audit_anchor "
    "BEGIN SELECT RAISE(ABORT, 'audit_anchor is append-only'); END",
]
# The function from 0001 raises whatever table it guards; it says "audit_event" in its message,
# so the anchor table gets its own.
_POSTGRES_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION signoff_audit_anchor_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_anchor is append-only'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER audit_anchor_append_only BEFORE UPDATE OR DELETE ON audit_anchor "
    "FOR EACH ROW EXECUTE FUNCTION signoff_audit_anchor_append_only()",
]


def upgrade() -> None:
    # Plain ADD COLUMN (never a batch copy of the table, which would drop its triggers on SQLite).
    op.add_column("audit_event", sa.Column("key_id", sa.String(length=16), nullable=True))
    op.add_column("audit_event", sa.Column("detail_mac", sa.String(length=64), nullable=True))
    op.create_table(
        "audit_anchor",
        sa.Column("id", AutoIncrementId, nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("row_id", sa.BigInteger(), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=True),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("ref", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_TRIGGERS if dialect == "sqlite" else _POSTGRES_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_anchor_append_only ON audit_anchor")
        op.execute("DROP FUNCTION IF EXISTS signoff_audit_anchor_append_only()")
    op.drop_table("audit_anchor")
    with op.batch_alter_table("audit_event", recreate="never") as batch_op:
        batch_op.drop_column("detail_mac")
        batch_op.drop_column("key_id")
