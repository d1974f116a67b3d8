"""The audit chains' heads and the keyed boundary in one call (PostgreSQL only).

Why (issue 18): with no ``SIGNOFF_AUDIT_KEY`` every append also read chain 0's newest row, where
the keyed boundary is (an unkeyed process must refuse to append once a keyed one has started the
keyed chain): one more round trip per audited step, five per executed item, a sixth of an
item's statements. ``signoff_audit_chain_heads(class, chains, with_boundary)`` takes the chains'
locks in the array's order, reads each head after its lock, then (when asked) chain 0's newest
row without its lock, each with a fresh snapshot as 0018's function does, so the boundary is read
after the locks exactly as the separate statement read it. Chains with no row return nothing;
the boundary comes back as chain -1. 0018's one-chain function stays (older code uses it).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 22:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HEADS_FUNCTION = """
CREATE OR REPLACE FUNCTION signoff_audit_chain_heads(
    lock_class integer, chain_nos integer[], with_boundary boolean
) RETURNS TABLE (chain_no integer, head_hash varchar, head_key varchar) AS $$
DECLARE
    c integer;
BEGIN
    FOREACH c IN ARRAY chain_nos LOOP
        PERFORM pg_advisory_xact_lock(lock_class, c);
        RETURN QUERY SELECT c, a.row_hash, a.key_id FROM audit_event a
            WHERE a.chain = c ORDER BY a.id DESC LIMIT 1;
    END LOOP;
    IF with_boundary THEN
        RETURN QUERY SELECT -1, a.row_hash, a.key_id FROM audit_event a
            WHERE a.chain = 0 ORDER BY a.id DESC LIMIT 1;
    END IF;
END;
$$ LANGUAGE plpgsql VOLATILE
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute(_HEADS_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION signoff_audit_chain_heads(integer, integer[], boolean)")
