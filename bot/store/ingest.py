"""Storing arriving tickets: one ``received`` item per (source, ticket id), written in groups.

``ingest`` is the one way a ticket becomes an item. The unique (source, external_id) constraint
decides whether it is new, not a read-then-write check, so concurrent deliveries of the same
ticket create exactly one item. Tickets that arrive while a batch is being written share the
next transaction (``bot.store.group_commit``): per ticket, the audit chains' locks and the round
trips of a transaction cost more than its insert.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Insert, Table, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.store import audit
from bot.store.column_types import utcnow
from bot.store.database import SessionFactory, transaction
from bot.store.frozen_statement import FrozenStatement
from bot.store.group_commit import GroupCommit
from bot.store.item_states import ItemState
from bot.store.models import Item
from bot.store.stat_tally import Metric, count_events, hour_of
from bot.store.ticket_threads import thread_key
from bot.tickets import TicketIn


def new_item_id() -> str:
    return "itm_" + uuid.uuid4().hex[:20]


@dataclass(frozen=True)
class IngestResult:
    item_id: str
    created: bool
    state: str


_ITEM: Table = Item.__table__  # type: ignore[attr-defined]


def _insert_defaults() -> dict[str, Any]:
    """What a new ``Item()`` writes into the columns ``ingest`` does not set: every non-None
    model default, and None for JSON columns (stored as JSON ``null``, as the ORM does). The
    other columns are left out, which stores the same NULL."""
    defaults: dict[str, Any] = {}
    for column in _ITEM.columns:
        field = Item.model_fields.get(column.name)
        if field is None or field.is_required():
            continue
        value = field.get_default(call_default_factory=True)
        if value is not None or column.type.should_evaluate_none:
            defaults[column.name] = value
    return defaults


_INSERT_DEFAULTS = _insert_defaults()
# Most tickets in one statement; a batch this size is a few hundred kilobytes of parameters.
INGEST_BATCH = 100


# What differs from ticket to ticket: ``_new_row`` sets these over ``_CONSTANT``.
_PER_TICKET = (
    "id",
    "source",
    "external_id",
    "kind",
    "subject",
    "body",
    "customer_name",
    "customer_email",
    "customer_tier",
    "requested_action",
    "extra",
    "thread_key",
    "created_at",
    "updated_at",
)
# What every new row holds alike: the model's other defaults and the state a ticket arrives in.
_CONSTANT: dict[str, Any] = {
    name: value
    for name, value in {**_INSERT_DEFAULTS, "state": ItemState.RECEIVED.value}.items()
    if name not in _PER_TICKET
}


def _unnest_insert() -> Insert:
    """PostgreSQL's statement for a batch: one array per column that differs per ticket,
    unnested into rows, and one value for each column every row holds alike.

    Its text is the same for every batch size, so psycopg converts and prepares it once per
    connection and reuses it; a multi-row ``VALUES`` list has a different text (and hundreds of
    parameters) for every size, which profiling ``serve`` under 20 concurrent webhooks showed
    converted and sent again for every batch. The constants are not arrays because dumping an
    array is Python work per element (psycopg's list dumper was 4% of the CPU with them)."""

    def typed(column: Column[Any]) -> Any:
        # JSON as JSONB, so a None is JSON ``null`` as the ORM stores it, not SQL NULL.
        return JSONB() if column.type.should_evaluate_none else column.type

    varying = [column for column in _ITEM.columns if column.name in _PER_TICKET]
    arrays = [ARRAY(typed(column), dimensions=1) for column in varying]
    rows = (
        func.unnest(
            *(cast(bindparam(c.name, type_=t), t) for c, t in zip(varying, arrays, strict=True))
        )
        .table_valued(*(column.name for column in varying))
        .render_derived()
    )
    fixed = [column for column in _ITEM.columns if column.name in _CONSTANT]
    constants = (cast(bindparam(c.name, type_=typed(c)), typed(c)) for c in fixed)
    return (
        pg_insert(_ITEM)
        .from_select(
            [c.name for c in (*varying, *fixed)],
            select(*rows.c, *constants),
        )
        .on_conflict_do_nothing(index_elements=["source", "external_id"])
        .returning(_ITEM.c.id)
    )


# Compiled once (``bot.store.frozen_statement``): SQLAlchemy does not cache an ON CONFLICT insert.
_PG_INSERT = FrozenStatement(lambda _dialect: _unnest_insert())


def _as_arrays(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """``_PG_INSERT``'s parameters: one list per column that differs per ticket, and the
    constants. (Each is named like its column: SQLAlchemy's insert-from-select wants that.)"""
    return {**_CONSTANT, **{name: [row[name] for row in rows] for name in _PER_TICKET}}


def _new_row(source: str, ticket: TicketIn) -> dict[str, Any]:
    now = utcnow()
    return {
        **_CONSTANT,
        "id": new_item_id(),
        "source": source,
        "external_id": ticket.id,
        "kind": ticket.kind,
        "subject": ticket.subject,
        "body": ticket.body,
        "customer_name": ticket.customer.name,
        "customer_email": ticket.customer.email,
        "customer_tier": ticket.customer.tier,
        "requested_action": (
            ticket.requested_action.model_dump(mode="json", exclude_none=True)
            if ticket.requested_action
            else None
        ),
        "extra": ticket.metadata,
        "thread_key": thread_key(source, ticket.metadata, ticket.id),
        "created_at": now,
        "updated_at": now,
    }


@dataclass
class _Arrival:
    source: str
    ticket: TicketIn
    row: dict[str, Any]
    digest: str


async def _write_batch(sessions: SessionFactory, batch: list[_Arrival]) -> list[IngestResult]:
    new_rows = [arrival.row for arrival in batch]
    async with transaction(sessions) as session:
        if session.bind.dialect.name == "postgresql":
            statement = _PG_INSERT.for_dialect(session.bind.dialect)
            result = await session.execute(statement, _as_arrays(new_rows))
        else:  # SQLite caches its statements by text itself; a multi-row insert is cheap there
            many = (
                sqlite_insert(_ITEM)
                .on_conflict_do_nothing(index_elements=["source", "external_id"])
                .returning(_ITEM.c.id)
            )
            result = await session.execute(many, new_rows)
        created = set(result.scalars())
        await audit.record_many(
            session,
            [
                audit.Entry(
                    "received",
                    arrival.row["id"],
                    detail={
                        "source": arrival.source,
                        "external_id": arrival.ticket.id,
                        "content_sha256": arrival.digest,
                    },
                )
                for arrival in batch
                if arrival.row["id"] in created
            ],
        )
        arrived = Counter(
            hour_of(arrival.row["created_at"]) for arrival in batch if arrival.row["id"] in created
        )
        for hour, count in sorted(arrived.items()):
            await count_events(session, hour, [Metric.RECEIVED], category=None, count=count)
    repeated = [arrival for arrival in batch if arrival.row["id"] not in created]
    existing: dict[tuple[str, str], tuple[str, str]] = {}
    if repeated:
        async with sessions() as session:
            for source in {arrival.source for arrival in repeated}:
                ids = {arrival.ticket.id for arrival in repeated if arrival.source == source}
                rows = await session.execute(
                    select(_ITEM.c.external_id, _ITEM.c.id, _ITEM.c.state).where(
                        _ITEM.c.source == source, _ITEM.c.external_id.in_(sorted(ids))
                    )
                )
                for external_id, item_id, state in rows:
                    existing[(source, external_id)] = (item_id, state)
    answers = []
    for arrival in batch:
        if arrival.row["id"] in created:
            answers.append(IngestResult(arrival.row["id"], True, ItemState.RECEIVED))
        else:
            item_id, state = existing[(arrival.source, arrival.ticket.id)]
            answers.append(IngestResult(item_id, False, state))
    return answers


# Tickets that arrive while a batch is being written go into the next one: one insert for all
# their rows (a repeated id is skipped, not an error), their audit rows in one statement per
# chain (``audit.record_many``), one commit.
_writer: GroupCommit[_Arrival, IngestResult] = GroupCommit(
    _write_batch, batch_size=INGEST_BATCH, name="ingest"
)


async def ingest(sessions: SessionFactory, source: str, ticket: TicketIn) -> IngestResult:
    """Store a ticket as a new ``received`` item, or return the existing one for a repeated id.

    The unique (source, external_id) constraint decides, not a read-then-write check, so
    concurrent deliveries of the same ticket create exactly one item. Concurrent tickets share
    one transaction (``bot.store.group_commit``): per ticket, the audit chain's lock and the
    round trips of a transaction cost more than its insert.
    """
    arrival = _Arrival(source, ticket, _new_row(source, ticket), content_digest(ticket))
    return await _writer.submit(sessions, arrival)


def content_digest(ticket: TicketIn) -> str:
    """A digest of the ticket's content, kept in the audit log instead of a copy of it."""
    canonical = json.dumps(ticket.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
