"""The audit log's append-only trigger as the migrations write it: frozen, never edited.

Why a module of its own: migration 0015 created the trigger that lets an erasure (and nothing
else) update an audit row, and 0018 rewrote it with one more column to keep; both must produce
exactly the SQL they produced when they shipped, so the text lives here once, for migrations
only. Live code never imports it. A later migration that changes the trigger adds its own text
(or a new function here) instead of editing these.
"""

from __future__ import annotations

REFUSED = "audit_event is append-only (only erasing personal content is allowed)"
SAME_FACTS = (
    "NEW.id = OLD.id AND NEW.at IS OLD.at AND NEW.item_id IS OLD.item_id "
    "AND NEW.actor IS OLD.actor AND NEW.event IS OLD.event AND NEW.prev_hash IS OLD.prev_hash "
    "AND NEW.row_hash IS OLD.row_hash AND NEW.key_id IS OLD.key_id "
    "AND NEW.detail_mac IS OLD.detail_mac AND OLD.item_id IS NOT NULL"
)


def sqlite_trigger(facts: str) -> list[str]:
    """SQLite: refuse every UPDATE but one that keeps ``facts`` and marks the detail erased."""
    return [
        "DROP TRIGGER audit_event_no_update",
        "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
        f"WHEN NOT ({facts} AND json_type(NEW.detail, '$._erased') IS NOT NULL) "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END",
    ]


def postgres_trigger(facts: str) -> list[str]:
    """PostgreSQL: the same rule in the trigger function (``IS`` → ``IS NOT DISTINCT FROM``)."""
    same = facts.replace(" IS OLD.", " IS NOT DISTINCT FROM OLD.")
    return [
        "CREATE OR REPLACE FUNCTION signoff_audit_append_only() RETURNS trigger AS $$ BEGIN "
        f"IF TG_OP = 'UPDATE' AND {same} AND jsonb_exists(NEW.detail, '_erased') "
        f"THEN RETURN NEW; END IF; RAISE EXCEPTION '{REFUSED}'; END; $$ LANGUAGE plpgsql",
    ]
