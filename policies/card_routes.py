"""Which channel a review card goes to: the leads' routing rules, first match wins.

Pure: the rules and the item's facts come in as values, so the whole matching table is tested
without a database or Slack. A selector is one of ``category:<name>``, ``action:<kind>``,
``tier:<name>``, ``source:<vendor>`` or ``amount>N``; no rule matching means the review channel.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from policies.errors import PolicyInputError

# Names as Signoff stores them (categories, action kinds, tiers, vendors): short, no spaces.
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_AMOUNT = re.compile(r"amount>(\d{1,12}(?:\.\d{1,4})?)")


class InvalidSelectorError(PolicyInputError):
    """The selector is not one this module knows; the message says which ones are."""


class SelectorKind(StrEnum):
    CATEGORY = "category"
    ACTION = "action"
    TIER = "tier"
    SOURCE = "source"
    AMOUNT = "amount"


SELECTOR_HELP = "`category:<name>`, `action:<kind>`, `tier:<name>`, `source:<vendor>` or `amount>N`"


@dataclass(frozen=True)
class CardFacts:
    """What a rule can look at: known when an item enters review."""

    category: str | None
    action_kind: str
    tier: str | None
    source: str
    amount: Decimal | None


@dataclass(frozen=True)
class Selector:
    kind: SelectorKind
    value: str  # the name, or the amount as text for ``amount>``

    def matches(self, facts: CardFacts) -> bool:
        if self.kind == SelectorKind.AMOUNT:
            return facts.amount is not None and facts.amount > Decimal(self.value)
        seen = {
            SelectorKind.CATEGORY: facts.category,
            SelectorKind.ACTION: facts.action_kind,
            SelectorKind.TIER: facts.tier,
            SelectorKind.SOURCE: facts.source,
        }[self.kind]
        return seen is not None and seen.lower() == self.value

    def __str__(self) -> str:
        if self.kind == SelectorKind.AMOUNT:
            return f"amount>{self.value}"
        return f"{self.kind.value}:{self.value}"


def parse_selector(text: str) -> Selector:
    """``category:refund`` → Selector; names are compared case-insensitively."""
    raw = text.strip().lower()
    if len(raw) > 80:
        raise InvalidSelectorError("a selector is at most 80 characters")
    amount = _AMOUNT.fullmatch(raw)
    if amount is not None:
        try:
            value = Decimal(amount.group(1))
        except InvalidOperation:  # pragma: no cover - the pattern only admits numbers
            raise InvalidSelectorError(f"`{raw}` has no amount") from None
        return Selector(SelectorKind.AMOUNT, format(value.normalize(), "f"))
    kind_text, sep, name = raw.partition(":")
    try:
        kind = SelectorKind(kind_text)
    except ValueError:
        kind = None
    if not sep or kind is None or kind == SelectorKind.AMOUNT or not _NAME.fullmatch(name):
        raise InvalidSelectorError(f"a selector is {SELECTOR_HELP}")
    return Selector(kind, name)


@dataclass(frozen=True)
class CardRoute:
    """One lead-made rule: cards it matches go to ``channel``; ``reviewer_group`` (a Slack user
    group) decides there, with the leads."""

    id: int
    selector: Selector
    channel: str
    reviewer_group: str | None = None


def first_match(routes: Sequence[CardRoute], facts: CardFacts) -> CardRoute | None:
    """The first rule (in the order given: oldest first) whose selector matches, else None."""
    return next((route for route in routes if route.selector.matches(facts)), None)
