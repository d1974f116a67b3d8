"""The settings a lead changes from Slack (``/signoff set``, ``pause``, ``resume``, App Home).

They live in the ``threshold_setting`` table next to the routing thresholds, so a change takes
effect for every instance at once and survives restarts. Each change is one transaction with an
audit row holding old → new, so the audit log answers "who loosened this, and when".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from bot import audit
from bot.database import SessionFactory, transaction
from bot.models import ThresholdSetting, utcnow
from bot.settings import Settings
from bot.threshold_store import default_thresholds
from policies.thresholds import InvalidThresholdError, Thresholds, parse_threshold

QUORUM_AMOUNT = "quorum_amount"

# What ``/signoff set`` accepts, with the words a lead may type for each.
SETTABLE: dict[str, str] = {
    "auto_approve_max_risk": "highest risk executed without a human: low, medium, high, critical",
    "refund_auto_limit": "refunds and credits above this amount always need a human",
    QUORUM_AMOUNT: "refunds and credits above this amount need two distinct approvers",
}
ALIASES = {
    "risk": "auto_approve_max_risk",
    "auto_risk": "auto_approve_max_risk",
    "refund_limit": "refund_auto_limit",
    "limit": "refund_auto_limit",
    "quorum": QUORUM_AMOUNT,
}


@dataclass(frozen=True)
class LeadSettings:
    thresholds: Thresholds
    quorum_amount: Decimal

    def as_lines(self) -> list[str]:
        t = self.thresholds
        return [
            f"auto_approve_max_risk = {t.auto_approve_max_risk.value}",
            f"refund_auto_limit = {t.refund_auto_limit}",
            f"quorum_amount = {self.quorum_amount}",
            f"paused = {'true' if t.paused else 'false'}",
        ]


@dataclass(frozen=True)
class SettingChange:
    key: str
    old: str
    new: str

    @property
    def changed(self) -> bool:
        return self.old != self.new


def canonical_key(word: str) -> str | None:
    key = word.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    return key if key in SETTABLE or key == "paused" else None


def parse_value(key: str, raw: str) -> str:
    """The stored form of a valid value; ``InvalidThresholdError`` explains a bad one."""
    if key == QUORUM_AMOUNT:
        try:
            amount = Decimal(raw.strip())
        except InvalidOperation:
            raise InvalidThresholdError(f"{key} must be a number, not {raw!r}") from None
        if not amount.is_finite() or amount < 0:
            raise InvalidThresholdError(f"{key} must be zero or more, not {raw!r}")
        return str(amount)
    value = parse_threshold(key, raw)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _defaults(settings: Settings) -> dict[str, str]:
    stored = default_thresholds(settings).to_strings()
    stored[QUORUM_AMOUNT] = str(settings.default_quorum_amount)
    return stored


async def load_lead_settings(sessions: SessionFactory, settings: Settings) -> LeadSettings:
    async with sessions() as session:
        rows = (await session.execute(select(ThresholdSetting))).scalars().all()
    stored = _defaults(settings)
    stored.update({row.key: row.value for row in rows})
    try:
        quorum = Decimal(parse_value(QUORUM_AMOUNT, stored[QUORUM_AMOUNT]))
    except InvalidThresholdError:
        quorum = settings.default_quorum_amount
    return LeadSettings(Thresholds.from_strings(stored, currency=settings.currency), quorum)


async def change_setting(
    sessions: SessionFactory, settings: Settings, *, key: str, raw: str, actor: str
) -> SettingChange:
    """Validate and store one value, auditing old → new (raises ``InvalidThresholdError``)."""
    new = parse_value(key, raw)
    async with transaction(sessions) as session:
        row = await session.get(ThresholdSetting, key)
        old = row.value if row is not None else _defaults(settings).get(key, "")
        if old == new:
            return SettingChange(key, old, new)
        if row is None:
            session.add(ThresholdSetting(key=key, value=new, updated_by=actor, updated_at=utcnow()))
        else:
            row.value, row.updated_by, row.updated_at = new, actor, utcnow()
        await session.flush()
        await audit.record(session, "setting_changed", actor=actor, key=key, old=old, new=new)
    return SettingChange(key, old, new)
