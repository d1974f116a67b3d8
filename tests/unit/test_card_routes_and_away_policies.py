"""The pure rules behind routing by team and away: selectors, first match, stand-ins,
escalation targets and reading ``until``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from policies.away import (
    Absence,
    InvalidUntilError,
    escalation_targets,
    parse_until,
    stand_ins,
)
from policies.card_routes import (
    CardFacts,
    CardRoute,
    InvalidSelectorError,
    first_match,
    parse_selector,
)

NOW = datetime(2026, 12, 10, 15, 0, tzinfo=UTC)
FACTS = CardFacts(
    category="refund", action_kind="refund", tier="VIP", source="stripe", amount=Decimal("600")
)


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("category:refund", True),
        ("Category:REFUND", True),
        ("category:billing", False),
        ("action:refund", True),
        ("tier:vip", True),
        ("source:zendesk", False),
        ("amount>500", True),
        ("amount>600", False),
        ("amount>599.99", True),
    ],
)
def test_selectors_match_the_facts_they_name(text: str, matches: bool) -> None:
    assert parse_selector(text).matches(FACTS) is matches


@pytest.mark.parametrize(
    "text",
    ["colour:red", "category:", "amount>", "amount>-5", "category:a b", "amount<5", "x" * 90],
)
def test_unknown_selectors_are_refused(text: str) -> None:
    with pytest.raises(InvalidSelectorError):
        parse_selector(text)


def test_no_amount_never_matches_an_amount_rule() -> None:
    facts = CardFacts(category=None, action_kind="reply", tier=None, source="generic", amount=None)
    assert not parse_selector("amount>0").matches(facts)
    assert not parse_selector("category:refund").matches(facts)


def test_the_first_matching_rule_wins_and_none_means_the_review_channel() -> None:
    rules = [
        CardRoute(1, parse_selector("source:zendesk"), "C1"),
        CardRoute(2, parse_selector("amount>500"), "C2", "S2"),
        CardRoute(3, parse_selector("category:refund"), "C3"),
    ]
    assert first_match(rules, FACTS) == rules[1]
    assert first_match(rules[2:], FACTS) == rules[2]
    assert first_match(rules[:1], FACTS) is None


def test_delegates_stand_in_unless_they_are_away_too() -> None:
    later = NOW + timedelta(days=1)
    absences = {
        "A": Absence("A", later, "D"),
        "B": Absence("B", later, "C"),
        "C": Absence("C", later),
        "E": Absence("E", NOW - timedelta(minutes=1)),  # ended
    }
    assert stand_ins(["A", "B", "E", "F"], absences, NOW) == ["D", "E", "F"]


def test_escalation_reaches_present_leads_then_delegates_then_everyone() -> None:
    later = NOW + timedelta(hours=5)
    one_away = escalation_targets(["L1", "L2"], {"L1": Absence("L1", later)}, NOW)
    assert one_away.people == ["L2"] and "<@L1>" in (one_away.note or "")
    delegated = escalation_targets(["L1"], {"L1": Absence("L1", later, "R1")}, NOW)
    assert delegated.people == ["R1"]
    everyone = {"L1": Absence("L1", later), "L2": Absence("L2", later)}
    all_away = escalation_targets(["L1", "L2"], everyone, NOW)
    assert all_away.people == ["L1", "L2"] and "Every lead is away" in (all_away.note or "")
    assert escalation_targets(["L1"], {}, NOW).note is None


def test_until_reads_dates_times_and_durations_in_the_persons_zone() -> None:
    assert parse_until("3d", NOW) == NOW + timedelta(days=3)
    assert parse_until("90m", NOW) == NOW + timedelta(minutes=90)
    assert parse_until("2026-12-24", NOW) == datetime(2026, 12, 24, tzinfo=UTC)
    assert parse_until("17:00", NOW) == datetime(2026, 12, 10, 17, 0, tzinfo=UTC)
    assert parse_until("09:00", NOW) == datetime(2026, 12, 11, 9, 0, tzinfo=UTC)
    berlin = ZoneInfo("Europe/Berlin")  # 16:00 there at NOW
    assert parse_until("17:00", NOW, berlin) == datetime(2026, 12, 10, 16, 0, tzinfo=UTC)
    assert parse_until("15:30", NOW, berlin) == datetime(2026, 12, 11, 14, 30, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026-12-01", "2026-13-01", "25:00", "soon", "200d", "0m"])
def test_until_refuses_the_past_nonsense_and_far_future(text: str) -> None:
    with pytest.raises(InvalidUntilError):
        parse_until(text, NOW)
