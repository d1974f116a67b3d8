"""Tickets that arrive together are written as one batch (on PostgreSQL, one array per column
unnested into rows): every ticket becomes exactly one item, a repeat inside the same batch gets
the first one's item, and each stored row is the row the ORM would have written for it."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select, text
from sqlmodel import col

from bot.runtime import open_runtime
from bot.store import ingest as ingest_rows
from bot.store.column_types import utcnow
from bot.store.ingest import ingest
from bot.store.models import AuditEvent, Item
from bot.tickets import TicketIn
from tests.support.server_harness import make_settings
from tests.support.ticket_factory import password_ticket

# Columns a stored row may differ in from the ORM's twin: identity and arrival time.
_OWN = {"id", "external_id", "thread_key", "created_at", "updated_at"}


def _tickets() -> list[TicketIn]:
    varied: list[dict[str, Any]] = [
        password_ticket(),
        password_ticket(customer={"name": "Zoë Ångström", "email": "z@example.org", "tier": "pro"}),
        password_ticket(
            requested_action={"kind": "refund", "amount": "12.50", "currency": "EUR"},
            metadata={"order": {"id": "O-1", "lines": [1, 2]}, "note": None},
        ),
        password_ticket(kind="crm_event", subject="", body="x" * 5000),
    ]
    varied += [password_ticket(subject=f"ticket {n}") for n in range(21)]
    return [TicketIn.model_validate(ticket) for ticket in varied]


async def _rows(session: Any, where: str, **params: Any) -> list[dict[str, Any]]:
    """Rows as the database holds them (JSON ``null`` and SQL NULL told apart by type)."""
    result = await session.execute(text(f"SELECT * FROM item WHERE {where}"), params)
    return [dict(row._mapping) for row in result]


async def test_concurrent_tickets_and_repeats_become_one_item_each(database_url: str) -> None:
    tickets = _tickets()
    repeats = tickets[:5]
    async with open_runtime(make_settings(database_url=database_url)) as rt:
        results = await asyncio.gather(
            *(ingest(rt.sessions, "generic", ticket) for ticket in [*tickets, *repeats])
        )
        firsts, again = results[: len(tickets)], results[len(tickets) :]
        assert all(result.created for result in firsts)
        assert len({result.item_id for result in firsts}) == len(tickets)
        # A repeat of a ticket in the same burst answers with the first delivery's item.
        assert [r.item_id for r in again] == [r.item_id for r in firsts[: len(repeats)]]
        assert not any(result.created for result in again)
        async with rt.sessions() as session:
            items = await session.scalar(select(func.count()).select_from(Item))
            received = await session.scalar(
                select(func.count()).where(col(AuditEvent.event) == "received")
            )
            stored = {
                row.external_id: row for row in (await session.execute(select(Item))).scalars()
            }
        assert items == len(tickets)
        assert received == len(tickets)
        for ticket in tickets:
            item = stored[ticket.id]
            assert (item.subject, item.body) == (ticket.subject, ticket.body)
            assert item.kind == ticket.kind
            assert item.customer_tier == ticket.customer.tier
            assert item.extra == ticket.metadata
            expected_action = (
                ticket.requested_action.model_dump(mode="json", exclude_none=True)
                if ticket.requested_action
                else None
            )
            assert item.requested_action == expected_action
            assert item.created_at.tzinfo is not None


async def test_a_batched_row_is_the_row_the_orm_writes(database_url: str) -> None:
    ticket = TicketIn.model_validate(password_ticket())
    async with open_runtime(make_settings(database_url=database_url)) as rt:
        # Two at once, so the row under test went through a batch of more than one.
        first, _ = await asyncio.gather(
            ingest(rt.sessions, "generic", ticket),
            ingest(rt.sessions, "generic", TicketIn.model_validate(password_ticket())),
        )
        async with rt.sessions() as session, session.begin():
            session.add(
                Item(
                    id="itm_orm_twin",
                    source="generic",
                    external_id="orm-twin",
                    kind=ticket.kind,
                    subject=ticket.subject,
                    body=ticket.body,
                    customer_name=ticket.customer.name,
                    customer_email=ticket.customer.email,
                    customer_tier=ticket.customer.tier,
                    requested_action=None,
                    extra=ticket.metadata,
                    state="received",
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
        async with rt.sessions() as session:
            [batched] = await _rows(session, "id = :id", id=first.item_id)
            [orm] = await _rows(session, "id = 'itm_orm_twin'")
            # JSON null and SQL NULL differ on PostgreSQL: the batch must store what the ORM does.
            nulls = await _rows(
                session,
                "id IN (:a, 'itm_orm_twin') AND requested_action IS NULL",
                a=first.item_id,
            )
    assert {k: v for k, v in batched.items() if k not in _OWN} == {
        k: v for k, v in orm.items() if k not in _OWN
    }
    assert len(nulls) in (0, 2)


def test_the_batch_statement_writes_every_column_a_new_row_sets() -> None:
    """PostgreSQL's statement names its columns once (per-ticket arrays, shared constants); a
    column ``_new_row`` sets and the statement leaves out would be dropped on PostgreSQL alone,
    and a constant ``_new_row`` overrides would be stored as the constant there."""
    ticket = TicketIn.model_validate(password_ticket())
    row = ingest_rows._new_row("generic", ticket)
    written = set(ingest_rows._unnest_insert().compile().params)
    assert set(row) == written
    params = ingest_rows._as_arrays([row])
    assert set(params) == written
    # A constant is sent once for the batch: the row must hold exactly that value.
    constants = {k: v for k, v in params.items() if k not in ingest_rows._PER_TICKET}
    assert constants == {k: row[k] for k in constants}
