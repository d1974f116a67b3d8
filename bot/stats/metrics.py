"""Prometheus metrics. Counters are bumped where things happen; gauges that describe the queue
(items by state, oldest pending item, decisions by outcome) are read from the database at scrape
time, so every instance reports the same truth however the work was spread.

Each runtime has its own registry: two apps in one process (tests) never share counters.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlmodel import col

from bot.store.column_types import utcnow
from bot.store.database import SessionFactory
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.models import Decision, Item

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.items = Gauge("signoff_items", "Items by state", ["state"], registry=r)
        self.decisions = Gauge("signoff_decisions", "Decisions by outcome", ["outcome"], registry=r)
        self.auto_ratio = Gauge(
            "signoff_auto_execution_ratio", "Share of decisions made automatically", registry=r
        )
        self.oldest_pending = Gauge(
            "signoff_oldest_pending_seconds",
            "Age of the oldest item waiting for review",
            registry=r,
        )
        self.executions = Counter(
            "signoff_executions", "Execution attempts by result", ["result"], registry=r
        )
        self.slack_errors = Counter(
            "signoff_slack_api_errors", "Slack Web API calls that failed", ["operation"], registry=r
        )
        self.slack_retries = Counter(
            "signoff_slack_api_retries", "Slack Web API retries by reason", ["reason"], registry=r
        )
        self.llm_latency = Histogram(
            "signoff_llm_latency_seconds",
            "LLM assessment latency",
            registry=r,
            buckets=(0.25, 0.5, 1, 2, 4, 8, 16, 32),
        )
        self.llm_tokens = Counter("signoff_llm_tokens", "LLM tokens", ["kind"], registry=r)
        self.assessment_failures = Counter(
            "signoff_assessment_failures", "Assessments that failed closed", registry=r
        )

    async def refresh(self, sessions: SessionFactory) -> None:
        async with sessions() as session:
            by_state = dict(
                (
                    await session.execute(
                        select(col(Item.state), func.count()).group_by(col(Item.state))
                    )
                )
                .tuples()
                .all()
            )
            by_outcome = dict(
                (
                    await session.execute(
                        select(col(Decision.outcome), func.count()).group_by(col(Decision.outcome))
                    )
                )
                .tuples()
                .all()
            )
            oldest = (
                await session.execute(
                    select(func.min(col(Item.created_at))).where(
                        col(Item.state) == ItemState.PENDING_REVIEW
                    )
                )
            ).scalar_one_or_none()
        for state in ItemState:
            self.items.labels(state.value).set(by_state.get(state.value, 0))
        for outcome in DecisionOutcome:
            self.decisions.labels(outcome.value).set(by_outcome.get(outcome.value, 0))
        total = sum(by_outcome.values())
        auto = by_outcome.get(DecisionOutcome.AUTO_APPROVED.value, 0)
        self.auto_ratio.set(auto / total if total else 0)
        if oldest is not None and oldest.tzinfo is None:
            from datetime import UTC

            oldest = oldest.replace(tzinfo=UTC)
        self.oldest_pending.set((utcnow() - oldest).total_seconds() if oldest else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
