"""Erasing an audit row's personal content keeps ``audit verify`` valid, still catches a
rewritten fact, and is the only change the append-only trigger lets through."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import col

from bot.store import audit
from bot.store.audit_erasure import erase_audit_content
from bot.store.audit_keys import ERASED, AuditKeys
from bot.store.database import create_engine as create_async_engine
from bot.store.database import session_factory, sync_url, transaction
from bot.store.models import AuditEvent
from tests.support.audit_log import verify


def _keys() -> AuditKeys:
    from pydantic import SecretStr

    from tests.support.server_harness import make_settings

    settings = make_settings(audit_key=SecretStr("erasure-audit-key-0123456789abcdef0123456"))
    return AuditKeys.from_settings(settings)


async def _write(url: str, keys: AuditKeys) -> None:
    engine = create_async_engine(url)
    try:
        sessions = session_factory(engine, keys)
        async with transaction(sessions) as session:
            await audit.start_keyed_chain(session)
            await audit.record(session, "received", item_id="it1", source="generic")
            await audit.record(
                session,
                "rejected",
                item_id="it1",
                actor="U0LEAD",
                decision_id=7,
                reason_code="wrong_facts",
                reason="Jane Erasmus phoned twice",
            )
            await audit.record(
                session, "edited", item_id="it2", actor="U0R", edited_reply="Dear Bob", version=2
            )
    finally:
        await engine.dispose()


async def _erase_and_record(url: str, keys: AuditKeys, items: list[str], *, event: bool) -> int:
    engine = create_async_engine(url)
    try:
        async with transaction(session_factory(engine, keys)) as session:
            changed = await erase_audit_content(session, items)
            if event:
                await audit.record(session, "erased", actor="dpo", items=items)
            return changed
    finally:
        await engine.dispose()


def _rows(url: str) -> dict[str, dict[str, Any]]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(AuditEvent.__table__)).mappings().all()  # type: ignore[attr-defined]
            return {f"{r['event']}:{r['item_id']}": dict(r) for r in rows}
    finally:
        engine.dispose()


def _sql(url: str, statement: Any, **params: Any) -> None:
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            connection.execute(statement, params)
    finally:
        engine.dispose()


def test_erased_rows_verify_and_keep_their_facts(database_url: str) -> None:
    keys = _keys()
    asyncio.run(_write(database_url, keys))
    assert asyncio.run(_erase_and_record(database_url, keys, ["it1"], event=True)) == 1
    rows = _rows(database_url)
    rejected = rows["rejected:it1"]["detail"]
    assert rejected["decision_id"] == 7 and rejected["reason_code"] == "wrong_facts"
    assert "reason" not in rejected and set(rejected[ERASED]) == {"reason"}
    assert "Jane" not in str(rows)
    assert rows["edited:it2"]["detail"]["edited_reply"] == "Dear Bob"  # another item: kept
    report = asyncio.run(verify(database_url, keys))
    assert report.ok, report.problem
    assert report.erased_rows == 1


def test_a_rewritten_fact_of_an_erased_row_is_caught(database_url: str) -> None:
    keys = _keys()
    asyncio.run(_write(database_url, keys))
    asyncio.run(_erase_and_record(database_url, keys, ["it1"], event=True))
    row_id = _rows(database_url)["rejected:it1"]["id"]
    # Through the erasure door itself: every column but detail is fixed, and the kept fields
    # are checked one by one against their digests.
    _sql(
        database_url,
        text(
            "UPDATE audit_event SET detail = :d WHERE id = :id"
            if "sqlite" in database_url
            else "UPDATE audit_event SET detail = CAST(:d AS jsonb) WHERE id = :id"
        ),
        id=row_id,
        d='{"decision_id": 8, "reason_code": "wrong_facts", "_erased": {}}',
    )
    report = asyncio.run(verify(database_url, keys))
    assert not report.ok and report.first_bad_id == row_id


def test_erasure_without_an_erased_event_is_reported(database_url: str) -> None:
    keys = _keys()
    asyncio.run(_write(database_url, keys))
    asyncio.run(_erase_and_record(database_url, keys, ["it1"], event=False))
    report = asyncio.run(verify(database_url, keys))
    assert not report.ok and "erasure record" in (report.problem or "")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET actor = 'someone' WHERE item_id = 'it1'",
        "UPDATE audit_event SET event = 'approved' WHERE item_id = 'it1'",
        "DELETE FROM audit_event WHERE item_id = 'it1'",
    ],
)
def test_the_trigger_still_refuses_every_other_change(database_url: str, statement: str) -> None:
    asyncio.run(_write(database_url, _keys()))
    with pytest.raises(DBAPIError, match="append-only"):
        _sql(database_url, text(statement))


def test_the_trigger_refuses_a_changed_fact_even_with_a_marker(database_url: str) -> None:
    asyncio.run(_write(database_url, _keys()))
    marker = (
        "json_set(detail, '$._erased', json('{}'))"
        if "sqlite" in database_url
        else """detail || '{"_erased": {}}'::jsonb"""
    )
    with pytest.raises(DBAPIError, match="append-only"):
        _sql(
            database_url,
            text(f"UPDATE audit_event SET detail = {marker}, actor = 'x' WHERE item_id = 'it1'"),
        )
    _sql(
        database_url,
        update(AuditEvent).where(col(AuditEvent.item_id) == "it2").values(detail={ERASED: "*"}),
    )
