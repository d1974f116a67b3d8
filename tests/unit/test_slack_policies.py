"""The pure parts of reviewing in Slack: quorum, who may approve, the reject taxonomy, checking an
edit, command filters, outcomes. Exhaustive where the space is small."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.review.edit_validation import (
    AMOUNT_BLOCK,
    CURRENCY_BLOCK,
    REPLY_BLOCK,
    VALUE_BLOCK,
    EditedDraft,
    EditErrors,
    edit_summary,
    validate_edit,
)
from bot.review.outcomes import Outcome, outcome_of
from bot.review.queries import FilterError, parse_filters
from bot.slack.card import parse_button_value
from bot.slack.reject_modal import DETAIL_BLOCK, REASON_BLOCK, RejectInput, validate_reject
from bot.store.column_types import utcnow
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.models import Decision
from handlers.commands.registry import STATS_SECTIONS, registry, stats_section, subcommand
from handlers.slack.commands import mention_text
from policies.approvers import approval_refusal
from policies.quorum import (
    ApprovalRequirement,
    approval_requirement,
    missing_approvals,
    quorum_met,
)
from policies.reject_reasons import RejectReason
from policies.risk_levels import RiskLevel
from tests.support.slack_payloads import input_values, select_value
from tests.support.stored_items import stored_item

QUORUM = Decimal("500")


@pytest.mark.parametrize("kind", ["refund", "credit", "reply", "update_field", "escalate"])
@pytest.mark.parametrize("amount", [None, Decimal("0"), Decimal("500"), Decimal("500.01")])
@pytest.mark.parametrize("risk", list(RiskLevel))
def test_approval_requirement(kind: str, amount: Decimal | None, risk: RiskLevel) -> None:
    need = approval_requirement(action_kind=kind, amount=amount, risk=risk, quorum_amount=QUORUM)
    money = kind in {"refund", "credit"}
    assert need.approvals == (2 if money and (amount is None or amount > QUORUM) else 1)
    assert need.lead_required == (risk == RiskLevel.CRITICAL)
    three = approval_requirement(
        action_kind=kind, amount=amount, risk=risk, quorum_amount=QUORUM, quorum_approvers=3
    )
    assert three.approvals == (3 if need.approvals == 2 else 1)


@given(
    approvers=st.lists(st.sampled_from(["A", "B", "L"]), max_size=5),
    approvals=st.integers(1, 3),
    lead_required=st.booleans(),
)
def test_quorum_counts_distinct_people_and_a_lead_when_required(
    approvers: list[str], approvals: int, lead_required: bool
) -> None:
    need = ApprovalRequirement(approvals, lead_required, "test")
    met = quorum_met(approvers, need, leads={"L"})
    assert met == (len(set(approvers)) >= approvals and (not lead_required or "L" in approvers))
    assert (missing_approvals(approvers, need, leads={"L"}) == "nothing") == met


def test_who_may_approve() -> None:
    reviewers, leads = {"R1", "R2"}, {"L"}
    assert approval_refusal("R1", reviewers=reviewers, leads=leads, raised_by=None) is None
    assert approval_refusal("L", reviewers=reviewers, leads=leads, raised_by="R1") is None
    assert "only reviewers" in str(
        approval_refusal("X", reviewers=reviewers, leads=leads, raised_by=None)
    )
    assert "no self-approval" in str(
        approval_refusal("L", reviewers=reviewers, leads=leads, raised_by="L")
    )
    assert approval_refusal("", reviewers={""}, leads=leads, raised_by=None) is not None


def test_reject_needs_a_known_reason_and_text_for_other() -> None:
    assert validate_reject({}) == {REASON_BLOCK: "Choose why you reject this."}
    assert REASON_BLOCK in validate_reject(select_value(REASON_BLOCK, "because"))  # type: ignore[operator]
    assert DETAIL_BLOCK in validate_reject(select_value(REASON_BLOCK, "other"))  # type: ignore[operator]
    for reason in RejectReason:
        values = {
            **select_value(REASON_BLOCK, reason.value),
            **input_values(**{DETAIL_BLOCK: " x "}),
        }
        assert validate_reject(values) == RejectInput(reason, "x")
    too_long = {**select_value(REASON_BLOCK, "other"), **input_values(**{DETAIL_BLOCK: "x" * 1001})}
    assert DETAIL_BLOCK in validate_reject(too_long)  # type: ignore[operator]


REFUND = {"kind": "refund", "amount": "50.00", "currency": "USD"}


@pytest.mark.parametrize(
    ("amount", "currency", "errors"),
    [
        ("60", "eur", None),
        ("1,250.50", "USD", None),
        ("0", "USD", {AMOUNT_BLOCK}),
        ("-1", "USD", {AMOUNT_BLOCK}),
        ("1e3", "USD", None),
        ("NaN", "USD", {AMOUNT_BLOCK}),
        ("12.345", "USD", {AMOUNT_BLOCK}),
        ("ten", "USD", {AMOUNT_BLOCK}),
        ("999999999999999", "USD", {AMOUNT_BLOCK}),
        ("10", "US", {CURRENCY_BLOCK}),
        ("10", "U$D", {CURRENCY_BLOCK}),
    ],
)
def test_edited_refunds_are_checked_against_the_action_schema(
    amount: str, currency: str, errors: set[str] | None
) -> None:
    values = input_values(**{REPLY_BLOCK: "Hello", AMOUNT_BLOCK: amount, CURRENCY_BLOCK: currency})
    result = validate_edit(REFUND, values)
    if errors is None:
        assert isinstance(result, EditedDraft)
        assert result.action["currency"] == currency.upper()
        assert Decimal(result.action["amount"]) == Decimal(amount.replace(",", ""))
    else:
        assert isinstance(result, EditErrors) and set(result.errors) == errors


def test_edits_keep_the_action_kind_and_check_field_values() -> None:
    update = {"kind": "update_field", "field": "plan", "value": "pro"}
    ok = validate_edit(update, input_values(**{REPLY_BLOCK: "Done", VALUE_BLOCK: "team"}))
    assert isinstance(ok, EditedDraft) and ok.action == {**update, "value": "team"}
    empty = validate_edit(update, input_values(**{REPLY_BLOCK: "Done", VALUE_BLOCK: " "}))
    assert isinstance(empty, EditErrors) and set(empty.errors) == {VALUE_BLOCK}
    reply = validate_edit({"kind": "reply"}, input_values(**{REPLY_BLOCK: "x" * 3001}))
    assert isinstance(reply, EditErrors) and set(reply.errors) == {REPLY_BLOCK}
    assert edit_summary("a", "a", REFUND, REFUND) == "no changes"
    assert edit_summary("a", "bb", REFUND, {**REFUND, "amount": "70.00"}) == (
        "refund 50.00 USD → refund 70.00 USD; reply rewritten (1 → 2 characters)"
    )


def test_pending_filters() -> None:
    parsed = parse_filters(["HIGH", "risk:critical", "category:refund", "older:2h", "page:3"])
    assert parsed.risks == {"high", "critical"} and parsed.category == "refund"
    assert parsed.older_than is not None and parsed.older_than.total_seconds() == 7200
    assert parse_filters(["2"]).page == 2
    for bad in (["page:0"], ["urgent"], ["older:soon"], ["risk:mild"]):
        with pytest.raises(FilterError):
            parse_filters(bad)


def test_mentions_and_button_values() -> None:
    assert mention_text("<@U0BOT> pending high") == "pending high"
    assert mention_text("<@U0BOT>") == "help"
    assert parse_button_value("itm_1:3") == ("itm_1", 3)
    assert parse_button_value("itm_1") == ("itm_1", None)
    assert parse_button_value("itm_1:x") == ("itm_1", None)


def _decision(outcome: str) -> Decision:
    return Decision(item_id="itm_1", outcome=outcome, actor="U1", created_at=utcnow())


def test_outcomes_are_distinct() -> None:
    approved = _decision(DecisionOutcome.APPROVED)
    auto = _decision(DecisionOutcome.AUTO_APPROVED)
    cases: list[tuple[str, dict[str, Any], Decision | None, Outcome]] = [
        (ItemState.PENDING_REVIEW, {}, None, Outcome.PENDING),
        (ItemState.PENDING_REVIEW, {"stale_reason": "x"}, None, Outcome.STALE),
        (ItemState.EXPIRED, {}, None, Outcome.EXPIRED),
        (ItemState.REJECTED, {}, _decision("rejected"), Outcome.REJECTED),
        (ItemState.EXECUTED, {}, approved, Outcome.APPROVED),
        (ItemState.EXECUTED, {"edited_by": "U1"}, approved, Outcome.APPROVED_AFTER_EDIT),
        (ItemState.EXECUTED, {}, auto, Outcome.AUTO_EXECUTED),
        (ItemState.FAILED, {}, approved, Outcome.FAILED),
    ]
    for state, fields, decision, expected in cases:
        assert outcome_of(stored_item("itm_1", state, **fields), decision) == expected
    assert len({o.label for o in Outcome}) == len(Outcome)


def test_the_registry_refuses_a_name_twice_and_takes_stats_sections() -> None:
    assert "pending" in registry()  # loads the built-in subcommands first
    with pytest.raises(ValueError, match="registered twice"):

        @subcommand("pending", usage="pending", summary="again")
        async def again(ctx: object) -> str:  # pragma: no cover - never registered
            return ""

    async def section(ctx: object, since: object) -> list[str]:  # pragma: no cover
        return []

    try:
        assert stats_section(section) is section
        assert STATS_SECTIONS[-1] is section
    finally:
        STATS_SECTIONS.remove(section)
