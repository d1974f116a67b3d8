"""The audit log as several hash chains (issue 18): an item's rows stay in one chain and in
order, ``record_many`` appends what ``record`` would, verify finds a rewrite in any chain, a
chain's deleted tail and a deleted chain through the anchor, a chain lock does not block another
chain's appender on PostgreSQL, and migration 0018 keeps an existing log verifiable."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from pydantic import SecretStr
from sqlalchemy import create_engine, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store import audit
from bot.store.audit_anchors import Anchor, chain_heads
from bot.store.audit_keys import NO_KEYS, AuditKeys, legacy_hash
from bot.store.column_types import JSONType, UTCDateTime, utcnow
from bot.store.database import alembic_config, migrate, session_factory, sync_url, transaction
from bot.store.database import create_engine as create_async_engine
from bot.store.models import AuditEvent
from bot.store.stat_tally import Metric, count_events
from tests.conftest import TEST_DATABASE_URL
from tests.support.audit_log import tamper, verify
from tests.support.server_harness import make_settings

_AUDIT = AuditEvent.__table__  # type: ignore[attr-defined]


def _keys() -> AuditKeys:
    settings = make_settings(audit_key=SecretStr("chains-audit-key-0123456789abcdef012345"))
    return AuditKeys.from_settings(settings)


def _items_in_distinct_chains(count: int) -> list[str]:
    """Item ids whose chains differ from each other and from chain 0."""
    found: dict[int, str] = {}
    n = 0
    while len(found) < count:
        item_id = f"itm_chain{n}"
        chain = audit.chain_of(item_id)
        if chain != audit.NO_ITEM_CHAIN:
            found.setdefault(chain, item_id)
        n += 1
    return list(found.values())


async def _run(url: str, keys: AuditKeys, work: Any) -> Any:
    engine = create_async_engine(url)
    try:
        async with transaction(session_factory(engine, keys)) as session:
            return await work(session)
    finally:
        await engine.dispose()


async def _anchor(url: str, keys: AuditKeys) -> Anchor:
    engine = create_async_engine(url)
    try:
        async with session_factory(engine, keys)() as session:
            anchor = await chain_heads(session)
    finally:
        await engine.dispose()
    assert anchor is not None
    return anchor


def _rows(url: str) -> list[dict[str, Any]]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            found = connection.execute(select(_AUDIT).order_by(_AUDIT.c.id)).mappings().all()
            return [dict(row) for row in found]
    finally:
        engine.dispose()


async def _interleaved(url: str, keys: AuditKeys, items: list[str]) -> None:
    """Steps of several items, interleaved across transactions, plus rows without an item."""

    async def steps(session: AsyncSession, step: int) -> None:
        for item_id in items:
            await audit.record(session, f"step{step}", item_id=item_id, n=step)
        await audit.record(session, "tick", n=step)

    await _run(url, keys, audit.start_keyed_chain)
    for step in range(3):
        await _run(url, keys, lambda session, step=step: steps(session, step))


async def test_an_items_rows_stay_in_its_chain_in_order(database_url: str) -> None:
    keys = _keys()
    items = _items_in_distinct_chains(3)
    await _interleaved(database_url, keys, items)
    rows = _rows(database_url)
    for item_id in items:
        mine = [row for row in rows if row["item_id"] == item_id]
        assert {row["chain"] for row in mine} == {audit.chain_of(item_id)}
        assert [row["event"] for row in mine] == ["step0", "step1", "step2"]
        # Each links to the one before it: nothing of another item in between in its chain.
        assert all(mine[i]["prev_hash"] == mine[i - 1]["row_hash"] for i in (1, 2))
    assert {row["chain"] for row in rows if row["item_id"] is None} == {audit.NO_ITEM_CHAIN}
    report = await verify(database_url, keys)
    assert report.ok, report.problem
    assert report.chains == 4 and report.rows == len(rows)


async def test_record_many_appends_what_record_would_one_by_one(database_url: str) -> None:
    keys = _keys()
    items = _items_in_distinct_chains(2)
    entries = [
        audit.Entry("received", items[0], detail={"source": "generic", "n": 1}),
        audit.Entry("received", items[1], detail={"source": "generic", "n": 2}),
        audit.Entry("noted", None, actor="U0LEAD", detail={"n": 3}),
        audit.Entry("assessed", items[0], detail={"risk": "low", "n": 4}),
    ]

    async def one_by_one(session: AsyncSession) -> None:
        await audit.start_keyed_chain(session)
        for entry in entries:
            await audit.record(
                session, entry.event, item_id=entry.item_id, actor=entry.actor, **entry.detail
            )

    async def at_once(session: AsyncSession) -> None:
        await audit.record_many(session, entries)

    await _run(database_url, keys, one_by_one)
    first = len(_rows(database_url))
    await _run(database_url, keys, at_once)
    rows = _rows(database_url)
    by_chain: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_chain[row["chain"]].append(row)

    def facts(row: dict[str, Any]) -> tuple[Any, ...]:
        return (row["chain"], row["item_id"], row["actor"], row["event"], row["detail"])

    singles = [facts(row) for row in rows[:first] if row["event"] != audit.CHAIN_KEYED]
    batched = [facts(row) for row in rows[first:]]
    assert sorted(batched, key=str) == sorted(singles, key=str)
    for chain_rows in by_chain.values():  # the batch continues each chain where it stood
        assert all(
            chain_rows[i]["prev_hash"] == chain_rows[i - 1]["row_hash"]
            for i in range(1, len(chain_rows))
        )
    assert all(row["key_id"] == keys.current.key_id for row in rows if keys.current)
    report = await verify(database_url, keys)
    assert report.ok, report.problem


async def test_a_process_without_the_key_refuses_to_append_once_the_log_is_keyed(
    database_url: str,
) -> None:
    """The keyed boundary is in chain 0; an unkeyed process appending to another chain learns of
    it from chain 0's newest row (read with the heads in one call on PostgreSQL), so after a
    keyed process has started, no unkeyed row lands in any chain, one already there or not."""
    first, second = _items_in_distinct_chains(2)
    await _run(database_url, NO_KEYS, lambda s: audit.record(s, "received", item_id=first))
    before = len(_rows(database_url))
    await _run(database_url, _keys(), audit.start_keyed_chain)
    attempts = [
        lambda s: audit.record(s, "assessed", item_id=first),  # its chain's head is unkeyed
        lambda s: audit.record(s, "received", item_id=second),  # an empty chain
        lambda s: audit.record_many(s, [audit.Entry("a", first), audit.Entry("b", second)]),
    ]
    for attempt in attempts:
        with pytest.raises(audit.AuditKeyMissingError, match="SIGNOFF_AUDIT_KEY is not set"):
            await _run(database_url, NO_KEYS, attempt)
    rows = _rows(database_url)
    assert len(rows) == before + 1 and rows[-1]["event"] == audit.CHAIN_KEYED
    report = await verify(database_url, _keys())
    assert report.ok, report.problem


async def test_a_rewrite_in_any_chain_is_named(database_url: str) -> None:
    keys = _keys()
    items = _items_in_distinct_chains(3)
    await _interleaved(database_url, keys, items)
    rows = _rows(database_url)
    for item_id in items:  # the middle row of each item's chain, one at a time
        target = [row for row in rows if row["item_id"] == item_id][1]
        tamper(
            database_url,
            "UPDATE audit_event SET actor = 'mallory' WHERE id = :id",
            id=target["id"],
        )
        report = await verify(database_url, keys)
        assert report.first_bad_id == target["id"] and "content" in str(report.problem)
        tamper(
            database_url,
            "UPDATE audit_event SET actor = :actor WHERE id = :id",
            actor=target["actor"],
            id=target["id"],
        )
    assert (await verify(database_url, keys)).ok


async def test_a_chains_deleted_tail_and_a_deleted_chain_miss_the_anchor(
    database_url: str,
) -> None:
    keys = _keys()
    items = _items_in_distinct_chains(3)
    await _interleaved(database_url, keys, items)
    anchor = await _anchor(database_url, keys)
    assert len(anchor.heads) == 4
    report = await verify(database_url, keys, [anchor])
    assert report.ok and report.anchors_checked == 1, report.problem

    # The tail of one chain that is not the newest row overall: the log still links up.
    victim = items[0]
    chain = audit.chain_of(victim)
    head = next(h for h in anchor.heads if h.chain == chain)
    assert head.row_id != anchor.row_id
    tamper(database_url, "DELETE FROM audit_event WHERE id = :id", id=head.row_id)
    assert (await verify(database_url, keys)).ok  # without the anchor: undetectable
    report = await verify(database_url, keys, [anchor])
    assert not report.ok and report.missing_tail
    assert f"head of chain {chain}" in str(report.problem)

    # A whole chain gone.
    tamper(database_url, "DELETE FROM audit_event WHERE chain = :chain", chain=chain)
    report = await verify(database_url, keys, [anchor])
    assert not report.ok and "the whole chain was deleted" in str(report.problem)


async def test_an_anchor_from_before_the_chains_is_chain_zeros_head(database_url: str) -> None:
    keys = _keys()
    await _interleaved(database_url, keys, _items_in_distinct_chains(2))
    rows = [row for row in _rows(database_url) if row["chain"] == 0]
    head = rows[-1]
    legacy = {
        "row_id": head["id"],
        "row_hash": head["row_hash"],
        "count": len(rows),
        "key_id": head["key_id"],
        "at": utcnow().isoformat(timespec="seconds"),
    }
    anchor = Anchor.from_payload(legacy, "old file")
    assert anchor is not None
    assert (await verify(database_url, keys, [anchor])).ok
    wrong = Anchor.from_payload({**legacy, "count": len(rows) + 1}, "old file")
    assert wrong is not None
    report = await verify(database_url, keys, [wrong])
    assert report.first_bad_id == head["id"] and "rows were deleted" in str(report.problem)


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)")
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_appenders_of_different_chains_do_not_wait_for_each_other(
    database_url: str,
) -> None:
    """Two open transactions hold two chains' locks at once, and each adds to the same hourly
    tally (its own shard of it); a third, on the first's chain, waits until the first commits."""
    keys = _keys()
    first_item, second_item = _items_in_distinct_chains(2)
    engine = create_async_engine(database_url)
    sessions = session_factory(engine, keys)
    try:
        async with transaction(sessions) as first:
            await audit.record(first, "step", item_id=first_item)
            await count_events(first, utcnow(), [Metric.RECEIVED], category=None)

            async def second_chain() -> None:
                async with transaction(sessions) as second:
                    await audit.record(second, "step", item_id=second_item)
                    await count_events(second, utcnow(), [Metric.RECEIVED], category=None)

            # Another chain: appended, counted and committed while ``first`` still holds its
            # chain and its tally row (the bound only turns a hang into a failure).
            await asyncio.wait_for(second_chain(), timeout=60)
            same_chain = asyncio.create_task(
                _run(
                    database_url,
                    keys,
                    lambda session: audit.record(session, "later", item_id=first_item),
                )
            )
            for _ in range(200):  # until it is queued on the lock (or finished: a failure)
                async with sessions() as probe:
                    waiting = (
                        await probe.execute(
                            text(
                                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                "AND NOT granted AND objid = :chain"
                            ),
                            {"chain": audit.chain_of(first_item)},
                        )
                    ).scalar_one()
                if waiting or same_chain.done():
                    break
                await asyncio.sleep(0.05)
            assert waiting == 1 and not same_chain.done()
        await same_chain
    finally:
        await engine.dispose()
    events = [(row["item_id"], row["event"]) for row in _rows(database_url)]
    assert events == [(first_item, "step"), (second_item, "step"), (first_item, "later")] or (
        events == [(second_item, "step"), (first_item, "step"), (first_item, "later")]
    )
    assert (await verify(database_url, keys)).ok


async def test_the_migration_keeps_an_existing_log_as_chain_zero(database_url: str) -> None:
    """Down to 0015 (the log had one chain then), a log written there, up again: it verifies."""
    command.downgrade(alembic_config(database_url), "0015")
    before = sa.Table(  # audit_event as 0015 left it
        "audit_event",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UTCDateTime()),
        sa.Column("item_id", sa.String),
        sa.Column("actor", sa.String),
        sa.Column("event", sa.String),
        sa.Column("detail", JSONType),
        sa.Column("prev_hash", sa.String),
        sa.Column("row_hash", sa.String),
    )
    engine = create_engine(sync_url(database_url))
    prev = audit.GENESIS
    try:
        with engine.begin() as connection:
            for n in range(3):
                at, item_id, detail = utcnow(), f"itm_old{n}", {"n": n}
                digest = legacy_hash(prev, at, item_id, "system", "received", detail)
                connection.execute(
                    before.insert().values(
                        at=at,
                        item_id=item_id,
                        actor="system",
                        event="received",
                        detail=detail,
                        prev_hash=prev,
                        row_hash=digest,
                    )
                )
                prev = digest
    finally:
        engine.dispose()
    migrate(database_url, "head")
    rows = _rows(database_url)
    assert [row["chain"] for row in rows] == [0, 0, 0]
    report = await verify(database_url, AuditKeys())
    assert report.ok and report.rows == 3, report.problem
    # New rows of the same items go to their own chains and the whole log still verifies.
    for n in range(3):
        await _run(
            database_url,
            AuditKeys(),
            lambda session, n=n: audit.record(session, "assessed", item_id=f"itm_old{n}"),
        )
    report = await verify(database_url, AuditKeys())
    assert report.ok and report.rows == 6, report.problem
