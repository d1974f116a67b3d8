"""The audit log's hash chain: intact after real activity, and any edit made around the
append-only triggers is detected and located."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, text

from bot.store.database import sync_url
from tests.support.audit_log import tamper
from tests.support.bot_cli import run_bot
from tests.support.server_harness import RunningServer
from tests.support.ticket_factory import password_ticket, refund_ticket


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_bot("audit", *args, database_url=database_url)


def _activity(server: RunningServer) -> None:
    for ticket in (password_ticket(), refund_ticket("300.00"), password_ticket()):
        item_id = server.post_ticket(ticket).json()["item_id"]
        server.wait_for_state(item_id, "executed", "pending_review")


def test_chain_verifies_and_exports(server: RunningServer, tmp_path: Path) -> None:
    _activity(server)
    url = server.settings.database_url
    verified = _cli(url, "verify")
    assert verified.returncode == 0, verified.stderr
    assert "hash chain verified" in verified.stdout
    out = tmp_path / "audit.jsonl"
    exported = _cli(url, "export", "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) >= 10
    # Every chain starts at the genesis hash and links each row to the one before it in
    # the chain; one item's rows are all in one chain, in order.
    heads: dict[int, str] = {}
    for row in rows:
        assert row["prev_hash"] == heads.get(row["chain"], "0" * 64)
        heads[row["chain"]] = row["row_hash"]
    chains_of_item: dict[str, set[int]] = {}
    for row in rows:
        if row["item_id"] is not None:
            chains_of_item.setdefault(row["item_id"], set()).add(row["chain"])
    assert chains_of_item and all(len(chains) == 1 for chains in chains_of_item.values())


def test_edited_row_is_detected(server: RunningServer) -> None:
    _activity(server)
    url = server.settings.database_url
    tamper(url, "UPDATE audit_event SET actor = 'mallory' WHERE id = 3")
    result = _cli(url, "verify")
    assert result.returncode == 1
    assert "TAMPERED at row 3" in result.stderr and "content" in result.stderr


def _next_in_chain(database_url: str, row_id: int) -> int:
    """The row after ``row_id`` in its chain: the one whose link a deletion breaks."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text(
                    "SELECT min(id) FROM audit_event WHERE id > :id AND chain = "
                    "(SELECT chain FROM audit_event WHERE id = :id)"
                ),
                {"id": row_id},
            ).scalar()
    finally:
        engine.dispose()
    assert found is not None
    return int(found)


def test_deleted_row_is_detected(server: RunningServer) -> None:
    _activity(server)
    url = server.settings.database_url
    after = _next_in_chain(url, 4)
    tamper(url, "DELETE FROM audit_event WHERE id = 4")
    result = _cli(url, "verify")
    assert result.returncode == 1
    assert f"TAMPERED at row {after}" in result.stderr and "previous-hash" in result.stderr
