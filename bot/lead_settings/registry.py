"""Every setting a lead changes from Slack, in one registry: what it means, how a typed value is
checked, its default, and what a change needs first.

The values live in the ``threshold_setting`` table, so a change takes effect for every instance at
once and survives restarts. A change to what runs without a human (a routing threshold, an
autonomy setting) is first shown as a dry run and waits for the lead's confirm; the others apply
at once. Either way a change is one compare-and-set in one transaction with its audit row
(``bot.lead_settings.changes`` keeps the change records that make each one revertible).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.durations import format_duration
from bot.durations import parse_duration as settings_duration
from bot.errors import SettingChangeRefusedError
from bot.lead_settings.autonomy_settings import POLICY_KEYS, parse_policy_value
from bot.lead_settings.cache import stored_settings
from bot.lead_settings.seed import default_thresholds
from bot.settings import Settings
from bot.store import audit
from bot.store.column_types import utcnow
from bot.store.database import SessionFactory
from bot.store.models import ThresholdSetting
from policies.thresholds import (
    AUTO_MONEY_PER_CUSTOMER,
    AUTO_MONEY_PER_DAY,
    CATEGORY_PREFIX,
    MAX_RISK,
    InvalidThresholdError,
    Thresholds,
    is_threshold_key,
    parse_threshold,
)
from policies.weekly_schedule import OFF, weekly_time_or_off

QUORUM_AMOUNT = "quorum_amount"
QUORUM_APPROVERS = "quorum_approvers"
ESCALATE_AFTER = "escalate_after"
EXPIRE_AFTER = "expire_after"
PAUSED = "paused"
WEEKLY_REPORT_AT = "weekly_report_at"


class ChangeKind(StrEnum):
    """What a change needs before it applies."""

    # Changes which items run without a human: replay the last 30 days, then confirm.
    ROUTING = "routing"
    # Changes which kinds of work have earned trust: replay the buckets, then confirm.
    AUTONOMY = "autonomy"
    # Applies at once (still recorded, so it can be reverted).
    DIRECT = "direct"


# What ``/signoff set`` accepts, with its meaning, in the order ``/signoff settings`` lists them.
SETTABLE: dict[str, str] = {
    MAX_RISK: "highest risk executed without a human: low, medium or high",
    MAX_RISK + ".<category>": "the same for one category, e.g. `risk.password_reset medium`",
    "refund_auto_limit": "refunds and credits above this amount always need a human",
    AUTO_MONEY_PER_CUSTOMER: "most money one customer gets without a human in 30 days",
    AUTO_MONEY_PER_DAY: "most money all customers get without a human per UTC day",
    QUORUM_AMOUNT: "refunds and credits above this amount need several distinct approvers",
    QUORUM_APPROVERS: "how many distinct approvers those need: 2 to 5",
    ESCALATE_AFTER: "how long an item waits before leads are told (e.g. 2h, 90m)",
    EXPIRE_AFTER: "how long an item waits before it expires unexecuted (e.g. 24h, 3d)",
    WEEKLY_REPORT_AT: "when leads get the weekly chart: a day and a UTC time (fri-16:00) or off",
    **POLICY_KEYS,
}
_KINDS: dict[str, ChangeKind] = {
    MAX_RISK: ChangeKind.ROUTING,
    "refund_auto_limit": ChangeKind.ROUTING,
    AUTO_MONEY_PER_CUSTOMER: ChangeKind.ROUTING,
    AUTO_MONEY_PER_DAY: ChangeKind.ROUTING,
    "autonomy_target": ChangeKind.AUTONOMY,
    "autonomy_min_reviews": ChangeKind.AUTONOMY,
    "autonomy_sample": ChangeKind.AUTONOMY,
}
ALIASES = {
    "risk": MAX_RISK,
    "auto_risk": MAX_RISK,
    "refund_limit": "refund_auto_limit",
    "limit": "refund_auto_limit",
    "money_per_customer": AUTO_MONEY_PER_CUSTOMER,
    "customer_budget": AUTO_MONEY_PER_CUSTOMER,
    "money_per_day": AUTO_MONEY_PER_DAY,
    "daily_budget": AUTO_MONEY_PER_DAY,
    "quorum": QUORUM_AMOUNT,
    "approvers": QUORUM_APPROVERS,
    "escalate": ESCALATE_AFTER,
    "escalation": ESCALATE_AFTER,
    "expire": EXPIRE_AFTER,
    "expiry": EXPIRE_AFTER,
    "target": "autonomy_target",
    "min_reviews": "autonomy_min_reviews",
    "sample": "autonomy_sample",
    "spot_check": "spot_check_share",
    "spot_checks": "spot_check_share",
    "weekly_report": WEEKLY_REPORT_AT,
}
_SHORTEST = timedelta(minutes=1)
_LONGEST = timedelta(days=30)


@dataclass(frozen=True)
class LeadSettings:
    thresholds: Thresholds
    quorum_amount: Decimal
    escalate_after: timedelta
    expire_after: timedelta
    quorum_approvers: int = 2

    def as_lines(self) -> list[str]:
        t = self.thresholds
        lines = [f"{MAX_RISK} = {t.auto_approve_max_risk.value}"]
        lines.extend(
            f"{CATEGORY_PREFIX}{category} = {level.value}"
            for category, level in sorted(t.category_max_risk.items())
        )
        lines.extend(
            [
                f"refund_auto_limit = {t.refund_auto_limit} {t.currency}",
                f"{AUTO_MONEY_PER_CUSTOMER} = {t.auto_money_per_customer} {t.currency} "
                "per customer per 30 days",
                f"{AUTO_MONEY_PER_DAY} = {t.auto_money_per_day} {t.currency} per UTC day",
                f"{QUORUM_AMOUNT} = {self.quorum_amount} {t.currency}",
                f"{QUORUM_APPROVERS} = {self.quorum_approvers}",
                f"{ESCALATE_AFTER} = {format_duration(self.escalate_after)}",
                f"{EXPIRE_AFTER} = {format_duration(self.expire_after)}",
                f"{PAUSED} = {'true' if t.paused else 'false'}",
            ]
        )
        return lines


@dataclass(frozen=True)
class SettingChange:
    key: str
    old: str
    new: str

    @property
    def changed(self) -> bool:
        return self.old != self.new


def canonical_key(word: str) -> str | None:
    """The setting a lead meant (``risk.password_reset`` → ``auto_approve_max_risk.password_
    reset``), or None when it is not one."""
    key = word.strip().lower().replace("-", "_")
    head, dot, category = key.partition(".")
    if dot:
        if ALIASES.get(head, head) != MAX_RISK:
            return None
        key = CATEGORY_PREFIX + category
        return key if is_threshold_key(key) else None
    key = ALIASES.get(key, key)
    return key if key in SETTABLE or key == PAUSED else None


def change_kind(key: str) -> ChangeKind:
    if key.startswith(CATEGORY_PREFIX):
        return ChangeKind.ROUTING
    return _KINDS.get(key, ChangeKind.DIRECT)


def parse_value(key: str, raw: str) -> str:
    """The stored form of a valid value; ``SettingChangeRefusedError`` explains a bad one."""
    if key == QUORUM_AMOUNT:
        try:
            amount = Decimal(raw.strip())
        except InvalidOperation:
            raise SettingChangeRefusedError(f"{key} must be a number, not {raw!r}") from None
        if not amount.is_finite() or amount < 0:
            raise SettingChangeRefusedError(f"{key} must be zero or more, not {raw!r}")
        return str(amount)
    if key in (ESCALATE_AFTER, EXPIRE_AFTER):
        return format_duration(parse_duration(key, raw))
    if key == WEEKLY_REPORT_AT:
        try:
            found = weekly_time_or_off(raw)
        except ValueError as exc:
            raise SettingChangeRefusedError(f"{key}: {exc}") from None
        return str(found) if found is not None else OFF
    if key == QUORUM_APPROVERS:
        text = raw.strip()
        if not text.isdigit() or not 2 <= int(text) <= 5:
            raise SettingChangeRefusedError(
                f"{key} must be a whole number from 2 to 5, not {raw!r}"
            )
        return str(int(text))
    if key in POLICY_KEYS:
        try:
            return parse_policy_value(key, raw)
        except ValueError as exc:
            raise SettingChangeRefusedError(str(exc)) from None
    try:
        value = parse_threshold(key, raw)
    except InvalidThresholdError as exc:
        raise SettingChangeRefusedError(str(exc)) from None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_duration(key: str, raw: str) -> timedelta:
    """A follow-up time a lead typed (``90m``, ``2h``, ``1h30m``, ``3d``), one minute to 30 days."""
    try:
        value = settings_duration(raw)
    except ValueError:
        raise SettingChangeRefusedError(
            f"{key} must be a duration such as 90m, 2h or 3d, not {raw!r}"
        ) from None
    if not _SHORTEST <= value <= _LONGEST:
        raise SettingChangeRefusedError(f"{key} must be between 1m and 30d, not {raw!r}")
    return value


def defaults(settings: Settings) -> dict[str, str]:
    """The deploy's value of every setting that has one (what applies until a lead changes it)."""
    values = default_thresholds(settings).to_strings()
    values[QUORUM_AMOUNT] = str(settings.default_quorum_amount)
    values[QUORUM_APPROVERS] = str(settings.quorum_approvers)
    values[ESCALATE_AFTER] = format_duration(settings.escalate_after)
    values[EXPIRE_AFTER] = format_duration(settings.expire_after)
    values[WEEKLY_REPORT_AT] = settings.weekly_report_at
    values.update(
        {
            "autonomy_min_reviews": str(settings.autonomy_min_reviews),
            "autonomy_target": repr(settings.autonomy_target),
            "autonomy_sample": repr(settings.autonomy_sample),
            "spot_check_share": repr(settings.spot_check_share),
        }
    )
    return values


async def stored_values(session: AsyncSession, settings: Settings) -> dict[str, str]:
    """Defaults overridden by what leads stored."""
    rows = (await session.execute(select(ThresholdSetting))).scalars().all()
    values = defaults(settings)
    values.update({row.key: row.value for row in rows})
    return values


async def load_lead_settings(sessions: SessionFactory, settings: Settings) -> LeadSettings:
    """Read through ``bot.lead_settings.cache`` (every click and routed item asks): a change made in
    this process applies at once, another instance's within its TTL."""
    values = defaults(settings)
    values.update(await stored_settings(sessions))
    return lead_settings_from(values, settings)


def lead_settings_from(values: dict[str, str], settings: Settings) -> LeadSettings:
    """Typed settings from stored strings; a bad stored value falls back to the deploy's."""

    def typed_duration(key: str, fallback: timedelta) -> timedelta:
        try:
            return parse_duration(key, values[key])
        except (KeyError, SettingChangeRefusedError):
            return fallback

    try:
        quorum = Decimal(parse_value(QUORUM_AMOUNT, values[QUORUM_AMOUNT]))
    except (KeyError, SettingChangeRefusedError):
        quorum = settings.default_quorum_amount
    try:
        approvers = int(parse_value(QUORUM_APPROVERS, values[QUORUM_APPROVERS]))
    except (KeyError, SettingChangeRefusedError):
        approvers = settings.quorum_approvers
    return LeadSettings(
        Thresholds.from_strings(values, currency=settings.currency),
        quorum,
        typed_duration(ESCALATE_AFTER, settings.escalate_after),
        typed_duration(EXPIRE_AFTER, settings.expire_after),
        approvers,
    )


class SettingConflictError(SettingChangeRefusedError):
    """The setting no longer has the value the change was made against."""


async def write_setting(
    session: AsyncSession, settings: Settings, *, key: str, expect: str, new: str, actor: str
) -> SettingChange:
    """Compare-and-set one stored value inside the caller's transaction, with its audit row.

    ``expect`` is the value the lead saw (the dry run's "before", or the value a revert puts
    back over): if another lead changed it meanwhile, nothing is written.
    """
    row = await session.get(ThresholdSetting, key, with_for_update=True)
    current = row.value if row is not None else defaults(settings).get(key, "")
    if current != expect:
        raise SettingConflictError(
            f"`{key}` is `{current}` now, not `{expect}`: it was changed meanwhile"
        )
    if current == new:
        return SettingChange(key, current, new)
    if key in (EXPIRE_AFTER, ESCALATE_AFTER):
        _check_timing(await stored_values(session, settings), key, new)
    if row is None:
        session.add(ThresholdSetting(key=key, value=new, updated_by=actor, updated_at=utcnow()))
    else:
        row.value, row.updated_by, row.updated_at = new, actor, utcnow()
    await session.flush()
    await audit.record(session, "setting_changed", actor=actor, key=key, old=current, new=new)
    return SettingChange(key, current, new)


def _check_timing(values: dict[str, str], key: str, new: str) -> None:
    escalate = parse_duration(
        ESCALATE_AFTER, new if key == ESCALATE_AFTER else values[ESCALATE_AFTER]
    )
    expire = parse_duration(EXPIRE_AFTER, new if key == EXPIRE_AFTER else values[EXPIRE_AFTER])
    if expire <= escalate:
        raise SettingChangeRefusedError(
            f"{EXPIRE_AFTER} ({format_duration(expire)}) must be longer than {ESCALATE_AFTER} "
            f"({format_duration(escalate)}), or items expire before any lead hears of them"
        )
