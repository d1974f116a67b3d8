"""Request changes and review clusters: the reviewer's instruction on the item, and cluster cards.

``item.change_request`` / ``change_requested_by`` / ``change_prior_draft``: a reviewer's
instruction for a re-draft, who gave it and the draft it replaced (the card shows the diff; an
approved re-draft becomes a drafting example). ``item.cluster_id``: the cluster card the item is
offered on, so it is offered on one at most. ``review_cluster``: one cluster card, its members
with the draft version each was offered at, and what *Approve all* did.

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from bot.store.column_types import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("change_request", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("change_requested_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("change_prior_draft", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("cluster_id", sa.String(length=32), nullable=True))
    op.create_table(
        "review_cluster",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("bucket", sa.String(length=120), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("members", JSON, nullable=False),
        sa.Column("slack_channel", sa.String(length=32), nullable=False),
        sa.Column("slack_ts", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("report", JSON, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("review_cluster")
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_column("cluster_id")
        batch_op.drop_column("change_prior_draft")
        batch_op.drop_column("change_requested_by")
        batch_op.drop_column("change_request")
