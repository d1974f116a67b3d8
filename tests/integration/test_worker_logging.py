"""Every log line written while a worker advances an item carries the item's id, including
lines from code that never heard of items (a vendor SDK, a library)."""

from __future__ import annotations

import json
import logging

import pytest

from bot.assess.assessment import Assessment
from bot.assess.heuristic import HeuristicClassifier
from bot.logging_setup import configure_logging
from bot.pipeline.worker import Worker
from bot.runtime import open_runtime
from bot.store.ingest import ingest
from bot.tickets import TicketIn
from tests.support.server_harness import make_settings
from tests.support.ticket_factory import password_ticket


class ChattyClassifier(HeuristicClassifier):
    """Logs the way a third-party SDK would: plain stdlib logging, no item id passed."""

    async def assess(self, ticket: TicketIn) -> Assessment:
        logging.getLogger("some.vendor.sdk").warning("vendor call took a while")
        return await super().assess(ticket)


async def test_worker_log_lines_carry_the_item_id(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(database_url=database_url, log_level="INFO")
    async with open_runtime(settings, classifier=ChattyClassifier()) as rt:
        ids = [
            (
                await ingest(rt.sessions, "generic", TicketIn.model_validate(password_ticket()))
            ).item_id
            for _ in range(2)
        ]
        capsys.readouterr()
        configure_logging("INFO", json=True)
        try:
            await Worker(rt).drain()
        finally:
            logging.getLogger().handlers.clear()
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    vendor = [line for line in lines if line["logger"] == "some.vendor.sdk"]
    assert sorted(line["item_id"] for line in vendor) == sorted(ids)
    about_items = [
        line for line in lines if line["event"] in {"item finished", "vendor call took a while"}
    ]
    assert len(about_items) == 4 and all(line.get("item_id") in ids for line in about_items)
    assert not [line for line in lines if line["event"] == "worker pass" and "item_id" in line]
