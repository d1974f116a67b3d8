"""Better drafts from edits: the most similar past edits are chosen offline, redacted, and sent
after the constant system prompt (so the cacheable prefix never changes)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Sequence
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from sqlalchemy import insert

from bot.assess.edit_examples import EditExample, examples_for, most_similar, rerank, similarity
from bot.assess.llm.client import OpenAIClassifier
from bot.assess.llm.model_input import build_examples_message
from bot.assess.llm.prompt import SYSTEM_PROMPT
from bot.runtime import open_runtime
from bot.store.column_types import utcnow
from bot.store.ingest import new_item_id
from bot.store.item_states import ItemState
from bot.store.models import Item
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.openai_api import FakeOpenAI
from tests.support.fakes.slack_api import FakeSlack
from tests.support.openai_classifier import API_KEY, server_configured_for_llm
from tests.support.server_harness import make_settings
from tests.support.ticket_factory import make_ticket, password_ticket


def _example(ticket: str, original: str = "Hi, sure.", edited: str = "Hello, sure!") -> EditExample:
    return EditExample(
        item_id=f"itm_{uuid.uuid4().hex[:8]}",
        category="billing",
        ticket_text=ticket,
        original=original,
        edited=edited,
        customer_name="Maria Lopez",
    )


def test_most_similar_ranks_by_ticket_text_and_drops_the_unrelated() -> None:
    invoice = _example("How do I download last month's invoice as a PDF?")
    invoice_older = _example("How do I download last month's invoice as a PDF?")
    refund = _example("I was charged twice, please refund the duplicate payment")
    unrelated = _example("zzzz qqqq xxxx")
    pool = [invoice, refund, unrelated, invoice_older]
    chosen = most_similar(pool, "Where can I download my invoice PDF for last month?", 2)
    assert chosen == [invoice, invoice_older]  # equal scores: the more recent edit first
    assert most_similar(pool, "Please refund the duplicate charge, I was charged twice", 1) == [
        refund
    ]
    assert most_similar(pool, "anything", 0) == []
    assert unrelated not in most_similar(pool, "invoice download", 4)
    assert similarity("Same  TEXT", "same text") == pytest.approx(1.0)
    assert similarity("invoice", "refund") == 0.0


def test_examples_are_redacted_with_labels_that_cannot_collide() -> None:
    message = build_examples_message(
        [
            _example(
                "invoice",
                original="Hi Maria, we sent it to maria@example.com.",
                edited="Hello Maria, the invoice is on its way to maria@example.com. <b>Thanks</b>",
            )
        ]
    )
    assert message is not None
    for secret in ("Maria", "maria@example.com"):
        assert secret not in message
    assert "[PERSON]" in message and "[EMAIL]" in message
    assert "<PERSON_1>" not in message and "<b>" not in message  # nothing angle-bracketed
    entries = json.loads(message.split("<examples>\n")[1].split("\n</examples>")[0])
    assert entries[0]["category"] == "billing"
    assert "the invoice is on its way" in entries[0]["approved"]
    assert build_examples_message([]) is None


async def test_examples_follow_the_constant_prefix_and_change_the_cache_key(
    fake: FakeOpenAI, classifier: OpenAIClassifier
) -> None:
    ticket = make_ticket()
    example = _example("How do I download an invoice?", edited="Settings, Billing, Export.")
    _, plain = await classifier.assess_with_usage(ticket)
    _, with_examples = await classifier.assess_with_usage(ticket, [example])
    assert len(fake.requests) == 2  # the examples are part of the cache key: a new call
    first, second = fake.requests
    assert [m["role"] for m in second.messages] == ["system", "user", "user"]
    assert second.messages[0]["content"] == SYSTEM_PROMPT == first.messages[0]["content"]
    assert "<examples>" in second.messages[1]["content"]
    assert "Settings, Billing, Export." in second.messages[1]["content"]
    assert second.messages[2]["content"] == first.messages[1]["content"]
    assert with_examples.redacted_input == second.messages[2]["content"]
    assert with_examples.examples_input == second.messages[1]["content"]
    assert with_examples.example_item_ids == [example.item_id]
    assert plain.examples_input is None and plain.input_sha256 != with_examples.input_sha256
    _, again = await classifier.assess_with_usage(ticket, [example])
    assert again.cache_hit and len(fake.requests) == 2


def _seed_edit(db_url: str, *, subject: str, body: str, original: str, edited: str) -> str:
    from sqlalchemy import create_engine

    from bot.store.database import sync_url

    item_id = new_item_id()
    now = utcnow()
    engine = create_engine(sync_url(db_url))
    with engine.begin() as connection:
        connection.execute(
            insert(Item),
            [
                {
                    "id": item_id,
                    "source": "generic",
                    "external_id": f"T-{item_id}",
                    "kind": "ticket",
                    "subject": subject,
                    "body": body,
                    "customer_name": "Ola Nordmann",
                    "customer_email": "ola@example.org",
                    "extra": {},
                    "reasons": [],
                    "approvals": [],
                    "state": ItemState.EXECUTED,
                    "category": "billing_question",
                    "ai_reply": original,
                    "approved_reply": edited,
                    "draft_reply": edited,
                    "edited_by": "U0REVIEWER",
                    "created_at": now - timedelta(hours=1),
                    "updated_at": now,
                    "decided_at": now - timedelta(minutes=5),
                }
            ],
        )
    engine.dispose()
    return item_id


def test_the_pipeline_sends_similar_past_edits_to_the_model(
    database_url: str, slack: FakeSlack, sink: HttpSink
) -> None:
    edited_id = _seed_edit(
        database_url,
        subject="Invoice copy",
        body="Please send me last month's invoice, Ola here.",
        original="Hi Ola, attached.",
        edited="Hi Ola, you can download every invoice under Settings > Billing > Invoices.",
    )
    _seed_edit(
        database_url,
        subject="Cancel my plan",
        body="I want to cancel the subscription at the end of the term.",
        original="Done.",
        edited="We have scheduled the cancellation for the end of your term.",
    )
    with server_configured_for_llm(
        database_url=database_url, slack=slack, sink=sink, draft_examples=1
    ) as (server, model):
        ticket = password_ticket(
            subject="Invoice copy",
            body="Please send me last month's invoice.",
            customer={"name": "Kari Holm", "email": "kari@example.org"},
        )
        response = server.post_ticket(ticket)
        assert response.status_code == 202, response.text
        item = server.wait_for_state(response.json()["item_id"], "executed", "pending_review")
        request = model.requests[-1]
        assert [m["role"] for m in request.messages] == ["system", "user", "user"]
        examples = request.messages[1]["content"]
        assert "Settings \\u003e Billing \\u003e Invoices" in examples
        assert "cancellation" not in examples and "Ola" not in examples
        assert item.llm_usage is not None
        assert item.llm_usage["example_item_ids"] == [edited_id]


class _Embeddings(BaseHTTPRequestHandler):
    """A minimal OpenAI-compatible ``/embeddings`` endpoint: one axis per known word."""

    seen: ClassVar[list[dict[str, Any]]] = []
    AXES: ClassVar[list[str]] = ["invoice", "download", "refund", "charged", "address"]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(body)
        data = [
            {
                "object": "embedding",
                "index": n,
                "embedding": [float(text.lower().count(axis)) + 0.01 for axis in self.AXES],
            }
            for n, text in enumerate(body["input"])
        ]
        payload = json.dumps(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        return


class _ScriptedEmbedder:
    def __init__(self, vectors: dict[str, list[float]], *, fail: bool = False) -> None:
        self.vectors = vectors
        self.fail = fail
        self.calls: list[list[str]] = []

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        if self.fail:
            raise RuntimeError("embeddings API down")
        return [next(v for key, v in self.vectors.items() if key in t) for t in texts]


async def test_embeddings_rerank_redacted_candidates_once_each() -> None:
    ticket = "Please refund me, maria@example.com, the invoice was charged twice"
    lexical_best = _example("Please send me the invoice again, the invoice is missing")
    meaning_best = _example("I was charged twice, I want my money back")
    embedder = _ScriptedEmbedder(
        {"refund me": [1.0, 0.0], "invoice is missing": [0.0, 1.0], "money back": [0.9, 0.1]}
    )
    chosen = await rerank(embedder, [lexical_best, meaning_best], ticket, "Maria Lopez", 2)
    assert chosen == [meaning_best, lexical_best]
    assert "maria@example.com" not in json.dumps(embedder.calls)
    assert "<EMAIL_1>" in embedder.calls[0][0]
    await rerank(embedder, [lexical_best, meaning_best], ticket, "Maria Lopez", 1)
    assert len(embedder.calls[1]) == 1  # the past edits' vectors are remembered by item id


async def test_a_failed_embeddings_call_falls_back_to_word_counts(database_url: str) -> None:
    _seed_edit(
        database_url,
        subject="Invoice copy",
        body="Please send me last month's invoice.",
        original="Attached.",
        edited="You can download every invoice under Settings.",
    )
    _seed_edit(
        database_url,
        subject="Invoice address",
        body="The address on my invoice is wrong.",
        original="Fixed.",
        edited="We corrected the address on your invoice.",
    )
    failing = _ScriptedEmbedder({}, fail=True)
    settings = make_settings(database_url=database_url)
    async with open_runtime(settings) as rt:
        chosen = await examples_for(
            rt.sessions,
            subject="Invoice copy",
            body="Could you send last month's invoice?",
            k=1,
            now=utcnow(),
            embedder=failing,
        )
    assert [c.edited for c in chosen] == ["You can download every invoice under Settings."]
    assert failing.calls  # it was tried


async def test_the_classifier_embeds_through_the_openai_compatible_api() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Embeddings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        classifier = OpenAIClassifier.from_settings(
            make_settings(
                openai_api_key=API_KEY,
                openai_base_url=f"http://127.0.0.1:{server.server_address[1]}/v1",
                openai_max_retries=0,
                embeddings_model="text-embedding-3-small",
            )
        )
        vectors = await classifier.embed(["an invoice", "a refund"])
        await classifier.aclose()
    finally:
        server.shutdown()
        server.server_close()
    request = _Embeddings.seen[-1]
    assert request["model"] == "text-embedding-3-small"
    assert request["input"] == ["an invoice", "a refund"]
    assert vectors[0][0] > vectors[0][2] and vectors[1][2] > vectors[1][0]
