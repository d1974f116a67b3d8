"""Thresholds live in the database so leads can change them at run time; this module reads them
and seeds missing ones from the deploy's defaults."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from bot.lead_settings.cache import forget
from bot.settings import Settings
from bot.store import audit
from bot.store.column_types import utcnow
from bot.store.database import SessionFactory, transaction
from bot.store.models import ThresholdSetting
from policies.thresholds import AUTO_MONEY_PER_CUSTOMER, AUTO_MONEY_PER_DAY, Thresholds


def default_thresholds(settings: Settings) -> Thresholds:
    return Thresholds.from_strings(
        {
            "auto_approve_max_risk": settings.default_auto_max_risk,
            "refund_auto_limit": str(settings.default_refund_auto_limit),
            AUTO_MONEY_PER_CUSTOMER: str(settings.default_auto_money_per_customer),
            AUTO_MONEY_PER_DAY: str(settings.default_auto_money_per_day),
        },
        currency=settings.currency,
    )


async def seed_thresholds(sessions: SessionFactory, settings: Settings) -> None:
    """Insert each default that has no stored value yet; never overwrite a lead's change."""
    for key, value in default_thresholds(settings).to_strings().items():
        try:
            async with transaction(sessions) as session:
                if await session.get(ThresholdSetting, key) is not None:
                    continue
                session.add(
                    ThresholdSetting(
                        key=key, value=value, updated_by="defaults", updated_at=utcnow()
                    )
                )
                await session.flush()
                await audit.record(session, "threshold_seeded", key=key, value=value)
        except IntegrityError:
            continue  # another instance seeded it first
    forget(sessions)
