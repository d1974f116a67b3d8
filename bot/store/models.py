"""Database tables (SQLModel). The schema itself is owned by the Alembic migrations.

Column types shared by the tables (UTC timestamps, JSON, ids) are in ``bot.store.column_types``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    SmallInteger,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from bot.store.column_types import AutoIncrementId, JSONType, UTCDateTime, timestamp_field


class Item(SQLModel, table=True):
    """One ticket or CRM event and everything Signoff decided and did about it."""

    __tablename__ = "item"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_item_source_external"),
        Index("ix_item_state_created_at", "state", "created_at"),
        Index("ix_item_thread_key_created_at", "thread_key", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=32)
    source: str = Field(max_length=32)
    external_id: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    subject: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    customer_name: str = Field(max_length=200)
    customer_email: str = Field(max_length=320)
    customer_tier: str | None = Field(default=None, max_length=50)
    requested_action: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    # Which source ticket this event belongs to (``bot.store.ticket_threads``), set on arrival.
    thread_key: str | None = Field(default=None, max_length=200)

    state: str = Field(max_length=20, index=True)
    classifier: str | None = Field(default=None, max_length=100)
    category: str | None = Field(default=None, max_length=64)
    sentiment: str | None = Field(default=None, max_length=16)
    risk_level: str | None = Field(default=None, max_length=16)
    risk_score: float | None = None
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    assessment_error: str | None = Field(default=None, sa_column=Column(Text))
    draft_reply: str | None = Field(default=None, sa_column=Column(Text))
    proposed_action: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    route_policy: str | None = Field(default=None, max_length=64)
    route_why: str | None = Field(default=None, sa_column=Column(Text))

    decision_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    idempotency_key: str | None = Field(default=None, max_length=100)
    # Where the card goes (a lead's route, ``bot.lead_settings.card_routes``; None = the review
    # channel) and whose members decide there with the leads; fixed when it enters review.
    review_channel: str | None = Field(default=None, max_length=32)
    reviewer_group: str | None = Field(default=None, max_length=32)
    card_route_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    slack_channel: str | None = Field(default=None, max_length=32)
    slack_ts: str | None = Field(default=None, max_length=32)
    attempts: int = Field(default=0)
    # An execution call went out and its outcome is not recorded yet (see migration 0007).
    send_started_at: datetime | None = timestamp_field()
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    execution_result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))

    llm_usage: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))

    # Review in Slack: three separate records (what the AI proposed, what a human approved, what
    # was executed); ``draft_reply``/``proposed_action`` above are the working copy an edit changes.
    ai_reply: str | None = Field(default=None, sa_column=Column(Text))
    ai_action: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    approved_reply: str | None = Field(default=None, sa_column=Column(Text))
    approved_action: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    executed_reply: str | None = Field(default=None, sa_column=Column(Text))
    executed_action: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    draft_version: int = Field(default=0)
    edited_by: str | None = Field(default=None, max_length=64)
    edited_at: datetime | None = timestamp_field()
    edit_summary: str | None = Field(default=None, sa_column=Column(Text))
    # Share of the AI's reply the approved text changed (0 = untouched, 1 = rewritten), fixed when
    # an edited version is approved so ``/signoff stats`` sums it in SQL instead of diffing texts.
    edit_size: float | None = None
    # Quorum: who approved the current draft version, and what the policy requires.
    approvals: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    approvals_required: int = Field(default=1)
    lead_required: bool = Field(default=False)
    # A newer event for the same source ticket arrived: Approve is refused until a re-draft.
    stale_reason: str | None = Field(default=None, sa_column=Column(Text))
    stale_at: datetime | None = timestamp_field()
    # Newer events up to this arrival time are already folded into the draft by a re-draft.
    redrafted_until: datetime | None = timestamp_field()
    # Request changes (``bot.review.request_changes``): the reviewer's instruction, who gave it
    # and the draft it replaced (the card's diff; an approved re-draft is a drafting example).
    change_request: str | None = Field(default=None, sa_column=Column(Text))
    change_requested_by: str | None = Field(default=None, max_length=64)
    change_prior_draft: str | None = Field(default=None, sa_column=Column(Text))
    # The cluster card this item is offered on (``bot.review.clusters``): one at most.
    cluster_id: str | None = Field(default=None, max_length=32)

    # Earned autonomy: the item's bucket, and whether a trusted bucket would have auto-executed
    # it (shadow mode); ``autonomy_note`` is the one line the card shows about that.
    autonomy_bucket: str | None = Field(default=None, max_length=120, index=True)
    autonomy_would_auto: bool = Field(default=False)
    autonomy_note: str | None = Field(default=None, sa_column=Column(Text))

    # Time-based follow-up: due times live in the row, so any instance's sweep can claim them.
    review_started_at: datetime | None = timestamp_field()
    reminders_sent: int = Field(default=0)
    next_reminder_at: datetime | None = timestamp_field(index=True)
    escalate_at: datetime | None = timestamp_field(index=True)
    escalated_at: datetime | None = timestamp_field()
    expires_at: datetime | None = timestamp_field(index=True)

    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = timestamp_field()
    next_attempt_at: datetime | None = timestamp_field()
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    decided_at: datetime | None = timestamp_field()
    executed_at: datetime | None = timestamp_field()
    # The customer's personal content was erased (``bot/erasure``): never executed after this.
    erased_at: datetime | None = timestamp_field()


def raised_by(item: Item) -> str | None:
    """The Slack user who raised ``item`` from Slack (``extra.slack_user_id``), if any: they may
    not approve their own request (``policies.approvers``)."""
    value = (item.extra or {}).get("slack_user_id")
    return str(value) if value else None


class Decision(SQLModel, table=True):
    """A human's or a policy's decision on an item: the executor's proof of authority."""

    __tablename__ = "decision"
    __table_args__ = (Index("ix_decision_created_at_wait", "created_at", "wait_seconds"),)

    id: int | None = Field(default=None, sa_column=Column(AutoIncrementId, primary_key=True))
    item_id: str = Field(foreign_key="item.id", index=True, max_length=32)
    outcome: str = Field(max_length=20)
    actor: str = Field(max_length=64)
    policy: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    # For rejections: one of ``policies.reject_reasons.RejectReason``.
    reason_code: str | None = Field(default=None, max_length=32)
    # A human decision's wait in seconds (``bot.store.stat_tally.wait_seconds``); None for a
    # policy's.
    # Stored once because decisions are never updated: the median is an index-only scan.
    wait_seconds: float | None = Field(default=None, sa_column=Column(Float))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ReviewCluster(SQLModel, table=True):
    """One cluster card: near-identical waiting items offered for *Approve all*, each member with
    the draft version it was offered at, and what *Approve all* did to each (``report``)."""

    __tablename__ = "review_cluster"

    id: str = Field(primary_key=True, max_length=32)
    bucket: str = Field(max_length=120)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    # ``[{"id": item id, "version": draft version}]``, oldest first.
    members: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONType, nullable=False)
    )
    slack_channel: str = Field(max_length=32)
    slack_ts: str | None = Field(default=None, max_length=32)
    # open | approved | one_by_one
    status: str = Field(max_length=16)
    decided_by: str | None = Field(default=None, max_length=64)
    report: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    decided_at: datetime | None = timestamp_field()


class StatTally(SQLModel, table=True):
    """How many events of one kind happened in one UTC hour, per category
    (``bot.store.stat_tally``): what ``/signoff stats`` sums instead of counting items."""

    __tablename__ = "stat_tally"

    hour: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    # The item's category ("" before assessment: a received ticket has none yet).
    category: str = Field(primary_key=True, max_length=64)
    # One of ``bot.store.stat_tally.Metric`` or ``rejected:<reason code>``.
    metric: str = Field(primary_key=True, max_length=48)
    # Which audit chain's transactions add to this row (``bot.store.stat_tally.count_events``):
    # one hot row per key would make every instance's transactions queue on it. Readers sum.
    shard: int = Field(
        default=0,
        sa_column=Column(SmallInteger(), primary_key=True, nullable=False, server_default="0"),
    )
    count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    # The sum of the events' measure where they have one (edit sizes), else 0.
    total: float = Field(default=0.0, sa_column=Column(Float, nullable=False))


class PromptText(SQLModel, table=True):
    """The exact instructions sent with each assessment, once per hash: items and audit rows
    name the prompt by ``prompt_sha256``, and this row says what that prompt was."""

    __tablename__ = "prompt_text"

    sha256: str = Field(primary_key=True, max_length=64)
    version: str = Field(max_length=32)
    system_prompt: str = Field(sa_column=Column(Text, nullable=False))
    user_preamble: str = Field(sa_column=Column(Text, nullable=False))
    # The JSON schema of the structured answer (part of what the model was asked for).
    answer_schema: str = Field(sa_column=Column(Text, nullable=False))
    first_used_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class AuditEvent(SQLModel, table=True):
    """Append-only record of every step and every human decision (database triggers refuse
    UPDATE and DELETE)."""

    __tablename__ = "audit_event"
    # A chain's head: its newest row (``bot/store/audit.py``).
    __table_args__ = (Index("ix_audit_event_chain_id", "chain", "id"),)

    id: int | None = Field(default=None, sa_column=Column(AutoIncrementId, primary_key=True))
    # Which of the hash chains the row links into (``bot.store.audit.chain_of``).
    chain: int = Field(
        default=0, sa_column=Column(SmallInteger(), nullable=False, server_default="0")
    )
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    item_id: str | None = Field(default=None, index=True, max_length=32)
    actor: str = Field(max_length=64)
    event: str = Field(max_length=40)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    # Tamper evidence: each row's hash covers its content and the previous row's hash.
    prev_hash: str | None = Field(default=None, max_length=64)
    row_hash: str | None = Field(default=None, max_length=64)
    # Keyed rows (bot/store/audit_keys.py): which key made row_hash (an HMAC), and the keyed
    # digest of ``detail`` that the row's MAC covers. NULL on rows from before the key.
    key_id: str | None = Field(default=None, max_length=16)
    detail_mac: str | None = Field(default=None, max_length=64)


class AuditAnchor(SQLModel, table=True):
    """A chain head published outside the database (Slack, the anchor file): which row, hash
    and count were shown where. Append-only like the log (triggers refuse UPDATE and DELETE)."""

    __tablename__ = "audit_anchor"

    id: int | None = Field(default=None, sa_column=Column(AutoIncrementId, primary_key=True))
    published_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    row_id: int = Field(sa_column=Column(BigInteger(), nullable=False))
    row_hash: str = Field(max_length=64)
    row_count: int = Field(sa_column=Column(BigInteger(), nullable=False))
    key_id: str | None = Field(default=None, max_length=16)
    target: str = Field(max_length=100)
    ref: str | None = Field(default=None, max_length=300)


class ThresholdSetting(SQLModel, table=True):
    """A lead-controlled threshold, stored as text and parsed by ``policies.thresholds``."""

    __tablename__ = "threshold_setting"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=200)
    updated_by: str = Field(max_length=64)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RunClaim(SQLModel, table=True):
    """A once-only job run (e.g. ``daily_digest:2026-11-25``) claimed by one instance: the row's
    primary key and a conditional update decide, so N schedulers firing together send it once."""

    __tablename__ = "run_claim"

    key: str = Field(primary_key=True, max_length=100)
    claimed_by: str = Field(max_length=64)
    claimed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    held_until: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SlackEvent(SQLModel, table=True):
    """Slack event ids already handled: Slack re-delivers (X-Slack-Retry-Num) when an ack is late,
    and Bolt does not de-duplicate."""

    __tablename__ = "slack_event"

    event_id: str = Field(primary_key=True, max_length=64)
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class InboxEntry(SQLModel, table=True):
    """One acknowledged Slack interaction, recorded before its ack and applied after it
    (``bot.store.inbox``). ``id`` is the arrival order; rows of one ``lane`` (an item, a user)
    are applied in that order. A done row stays, with its outcome, until housekeeping."""

    __tablename__ = "interaction_inbox"
    __table_args__ = (
        UniqueConstraint("retry_key", name="uq_interaction_inbox_retry_key"),
        Index("ix_interaction_inbox_lane_id", "lane", "id"),
        Index("ix_interaction_inbox_done_at_id", "done_at", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(AutoIncrementId, primary_key=True))
    # Slack's identity of the request: a retry of it carries the same one.
    retry_key: str = Field(max_length=64)
    kind: str = Field(max_length=64)
    lane: str = Field(max_length=100)
    actor: str | None = Field(default=None, max_length=64)
    # What the work needs, parsed and validated at the ack (not Bolt's whole body).
    payload: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    # The request's X-Slack-Request-Timestamp: when Slack signed it.
    signed_at: str | None = Field(default=None, max_length=20)
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    claimed_by: str | None = Field(default=None, max_length=80)
    claimed_until: datetime | None = timestamp_field()
    attempts: int = Field(default=0)
    done_at: datetime | None = timestamp_field()
    outcome: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AutonomyOutcome(SQLModel, table=True):
    """What a human did with one item of a bucket (a review, or a spot check after the fact):
    the evidence earned autonomy is computed from."""

    __tablename__ = "autonomy_outcome"
    __table_args__ = (
        UniqueConstraint("item_id", "source", name="uq_autonomy_outcome_item_source"),
        Index("ix_autonomy_outcome_bucket_at", "bucket", "at"),
    )

    id: int | None = Field(default=None, sa_column=Column(AutoIncrementId, primary_key=True))
    item_id: str = Field(max_length=32)
    bucket: str = Field(max_length=120)
    # One of ``policies.autonomy.ReviewOutcome``.
    outcome: str = Field(max_length=24)
    material: bool = Field(default=False)
    # "review" or "spot_check".
    source: str = Field(max_length=16)
    actor: str = Field(max_length=64)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class AutonomyBucket(SQLModel, table=True):
    """A bucket's lead-set pin and the point its evidence restarts from (its last revocation)."""

    __tablename__ = "autonomy_bucket"

    key: str = Field(primary_key=True, max_length=120)
    # One of ``policies.autonomy.Pin``.
    pin: str = Field(default="none", max_length=16)
    pinned_by: str | None = Field(default=None, max_length=64)
    pinned_at: datetime | None = timestamp_field()
    reset_at: datetime | None = timestamp_field()
    reset_reason: str | None = Field(default=None, sa_column=Column(Text))
    # Last known trust, so a change of state is announced once.
    trusted: bool = Field(default=False)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ThresholdChange(SQLModel, table=True):
    """A lead's threshold change: proposed with a dry run, then applied, cancelled or reverted."""

    __tablename__ = "threshold_change"

    id: int | None = Field(default=None, sa_column=Column(AutoIncrementId, primary_key=True))
    key: str = Field(max_length=64)
    old_value: str = Field(max_length=200)
    new_value: str = Field(max_length=200)
    # proposed | applied | cancelled | reverted
    status: str = Field(max_length=16)
    proposed_by: str = Field(max_length=64)
    proposed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = timestamp_field()
    dry_run: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    reverts_id: int | None = Field(default=None, sa_column=Column(BigInteger))


class AutoMoneyReservation(SQLModel, table=True):
    """Money one item executes without a human, counted against the lead's budgets
    (``bot.store.money_budget``). Reserved in the transaction that auto-approves the item, so
    two instances can never both spend the last of a budget; released when the execution fails."""

    __tablename__ = "auto_money_reservation"
    __table_args__ = (
        Index("ix_auto_money_reservation_customer_at", "customer", "reserved_at"),
        Index("ix_auto_money_reservation_reserved_at", "reserved_at"),
    )

    # One reservation per item: the primary key makes a second one for the same item fail.
    item_id: str = Field(primary_key=True, max_length=32)
    # ``policies.money_budget.customer_key`` of the item's customer.
    customer: str = Field(max_length=320)
    # Whole cents, so sums are exact on SQLite too (it has no decimal type).
    amount_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    reserved_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    released_at: datetime | None = timestamp_field()


class CardRoute(SQLModel, table=True):
    """A lead's rule sending matching cards to a team's channel (``policies.card_routes``).
    A removed rule keeps its row (``removed_at``) so the removal can be reverted."""

    __tablename__ = "card_route"

    id: int | None = Field(default=None, sa_column=Column(AutoIncrementId, primary_key=True))
    selector: str = Field(max_length=100)
    channel: str = Field(max_length=32)
    reviewer_group: str | None = Field(default=None, max_length=32)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    removed_by: str | None = Field(default=None, max_length=64)
    removed_at: datetime | None = timestamp_field()


class ReviewerAway(SQLModel, table=True):
    """A reviewer's absence (``/signoff away``) and who stands in for them meanwhile."""

    __tablename__ = "reviewer_away"

    user_id: str = Field(primary_key=True, max_length=64)
    until: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    delegate: str | None = Field(default=None, max_length=64)
    set_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
