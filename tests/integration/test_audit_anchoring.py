"""Anchoring the audit chain: the hourly job publishes once across instances, the job exists only
where there is somewhere to publish, and without an audit channel the daily digest carries the
anchor that verification reads back from Slack."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.pipeline.audit_anchoring import publish_anchor
from bot.pipeline.scheduler import AUDIT_ANCHOR_JOB, build_scheduler
from bot.pipeline.worker import Worker
from bot.runtime import Runtime, open_runtime
from bot.slack.audit_anchor_posts import read_slack_anchors
from bot.slack.daily_digest import send_daily_digest
from bot.store import audit
from bot.store.audit_keys import AuditKeys
from bot.store.audit_verify import verify_chain
from bot.store.database import transaction
from bot.store.models import AuditAnchor
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import REVIEW_CHANNEL, slack_settings

KEY = "anchoring-test-key-0123456789abcdef0123456789"
NOW = datetime(2026, 11, 25, 9, 5, tzinfo=UTC)


@pytest.fixture
async def two_instances(
    database_url: str, slack: FakeSlack, tmp_path: Path
) -> AsyncIterator[tuple[Runtime, Runtime]]:
    settings = slack_settings(
        database_url,
        slack,
        slack_posts_per_second=50,
        audit_key=KEY,
        audit_anchor_file=tmp_path / "anchors.jsonl",
        log_level="WARNING",
    )
    async with open_runtime(settings) as first, open_runtime(settings) as second:
        async with transaction(first.sessions) as session:
            await audit.record(session, "test_event", detail="x")
        yield first, second


async def test_hourly_anchor_is_published_once_across_instances(
    two_instances: tuple[Runtime, Runtime],
) -> None:
    first, second = two_instances
    path = first.settings.audit_anchor_file
    assert path is not None
    runs = await asyncio.gather(
        *(
            publish_anchor(rt.sessions, rt.settings, None, now=NOW, by=name)
            for rt, name in ((first, "a"), (second, "b"))
        )
    )
    assert sorted(run is None for run in runs) == [False, True]
    assert len(path.read_text().splitlines()) == 1
    later = await publish_anchor(
        second.sessions, second.settings, None, now=NOW + timedelta(hours=1), by="b"
    )
    assert later is not None and later.targets == ["file"]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    key = AuditKeys.from_settings(first.settings).current
    assert key is not None and len(lines) == 2 and lines[0]["key_id"] == key.key_id
    async with first.sessions() as session:
        recorded = (await session.execute(select(AuditAnchor))).scalars().all()
    assert [(a.target, a.row_id) for a in recorded] == [("file", lines[0]["row_id"])] * 2


async def test_anchor_job_only_where_there_is_somewhere_to_publish(
    two_instances: tuple[Runtime, Runtime],
) -> None:
    rt = two_instances[0]
    assert build_scheduler(Worker(rt), interval_seconds=5).get_job(AUDIT_ANCHOR_JOB) is not None
    rt.settings = rt.settings.model_copy(update={"audit_anchor_file": None})
    assert build_scheduler(Worker(rt), interval_seconds=5).get_job(AUDIT_ANCHOR_JOB) is None
    rt.settings = rt.settings.model_copy(update={"audit_channel": "C0AUDIT"})
    assert build_scheduler(Worker(rt), interval_seconds=5).get_job(AUDIT_ANCHOR_JOB) is not None


async def test_daily_digest_carries_the_anchor_verify_reads(
    two_instances: tuple[Runtime, Runtime], slack: FakeSlack
) -> None:
    rt = two_instances[0]
    assert await send_daily_digest(rt, NOW, by="a")
    [post] = slack.calls("chat.postMessage")
    assert ":anchor: Audit chain head" in str(post.params["text"])
    assert rt.publisher is not None
    anchors = await read_slack_anchors(rt.publisher.client, REVIEW_CHANNEL)
    assert len(anchors) == 1
    async with rt.sessions() as session:
        report = await verify_chain(session, AuditKeys.from_settings(rt.settings), anchors)
    assert report.ok and report.anchors_checked == 1, report.problem
