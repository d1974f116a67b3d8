"""The OpenAI classifier as production starts it: chosen by ``OPENAI_API_KEY`` in the settings,
its cost recorded on the item, in the audit log and in ``/metrics``, and never paid twice for a
re-delivered ticket."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.assess.llm.prompt import PROMPT_SHA256
from bot.store.models import AuditEvent
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.openai_api import Slow
from tests.support.fakes.slack_api import FakeSlack
from tests.support.openai_classifier import MODEL, server_configured_for_llm
from tests.support.server_harness import RunningServer

CUSTOMER_EMAIL = "dana.whitfield@example.org"


def _ticket(**overrides: Any) -> dict[str, Any]:
    ticket: dict[str, Any] = {
        "id": f"T-{uuid.uuid4().hex[:8]}",
        "kind": "ticket",
        "subject": "Invoice copy",
        "body": f"Hi, please send last month's invoice to {CUSTOMER_EMAIL}. Thanks!",
        "customer": {"name": "Dana Whitfield", "email": CUSTOMER_EMAIL},
    }
    ticket.update(overrides)
    return ticket


def _assessed_detail(server: RunningServer, item_id: str) -> dict[str, Any]:
    with Session(server.db) as session:
        detail = session.execute(
            select(col(AuditEvent.detail)).where(
                col(AuditEvent.item_id) == item_id, col(AuditEvent.event) == "assessed"
            )
        ).scalar_one()
    assert isinstance(detail, dict)
    return detail


def _metric(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name}{labels} not in /metrics"
    return float(match.group(1))


def test_openai_key_in_settings_selects_the_llm_and_its_cost_is_recorded(
    database_url: str, slack: FakeSlack, sink: HttpSink
) -> None:
    llm = server_configured_for_llm(database_url=database_url, slack=slack, sink=sink)
    with llm as (server, model):
        ticket = _ticket()
        first = server.post_ticket(ticket)
        assert first.status_code == 202, first.text
        item_id = first.json()["item_id"]
        item = server.wait_for_state(item_id, "executed", "pending_review", "failed")
        assert item.classifier == f"openai:{MODEL}"

        usage = item.llm_usage
        assert usage is not None
        assert usage["model"] == MODEL and usage["prompt_sha256"] == PROMPT_SHA256
        assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
        assert CUSTOMER_EMAIL not in usage["redacted_input"]
        assert usage["raw_response"] and json.loads(usage["raw_response"])["choices"]
        sent = model.requests[0].message_text("user")
        assert CUSTOMER_EMAIL not in sent and "Dana" not in sent

        detail = _assessed_detail(server, item_id)
        assert detail["prompt_sha256"] == PROMPT_SHA256
        assert detail["prompt_tokens"] == usage["prompt_tokens"]
        assert CUSTOMER_EMAIL not in json.dumps(detail)

        metrics = server.http.get(f"{server.url}/metrics").text
        assert _metric(metrics, "signoff_llm_tokens_total", '{kind="prompt"}') == float(
            usage["prompt_tokens"]
        )
        assert _metric(metrics, "signoff_llm_latency_seconds_count") == 1.0

        again = server.post_ticket(ticket)
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
        assert len(model.requests) == 1


def test_an_llm_timeout_from_settings_sends_the_item_to_a_human(
    database_url: str, slack: FakeSlack, sink: HttpSink
) -> None:
    with server_configured_for_llm(
        database_url=database_url, slack=slack, sink=sink, openai_timeout_seconds=0.3
    ) as (server, model):
        model.always(Slow(seconds=1.5))
        response = server.post_ticket(_ticket(body="Where is my invoice?"))
        item_id = response.json()["item_id"]
        item = server.wait_for_state(item_id, "pending_review", "executed", "failed")
        assert item.state == "pending_review"
        assert item.route_policy == "assessment_unavailable"
        assert item.assessment_error == "no answer from the model within 0.3s (1 attempt)"
        assert sink.requests == []
        assert "auto_approved" not in server.audit_events(item_id)
