"""The lead-set side of earned autonomy: which values a lead may set, how a typed value is checked,
and the policy in force (the deploy's seeds overridden by what leads stored).

These live with the other lead settings because they are read and written the same way (the
``threshold_setting`` table through ``bot.lead_settings.cache``); ``bot.autonomy`` reads the
policy from here and keeps the evidence it is applied to.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.lead_settings.cache import stored_settings
from bot.logging_setup import get_logger
from bot.settings import Settings
from bot.store.database import SessionFactory
from policies.autonomy import AutonomyPolicy

log = get_logger(__name__)

# Keys in the ``threshold_setting`` table a lead may set to override the deploy's seeds.
POLICY_KEYS = {
    "autonomy_min_reviews": "reviews a bucket needs before it can be trusted",
    "autonomy_target": "lower bound (95% Wilson) on approved-unchanged a bucket must reach",
    "autonomy_sample": "share of a trusted bucket's items still sent to a human",
    "spot_check_share": "share of auto-executed items posted for a 👍/👎 spot check",
}


@dataclass(frozen=True)
class LearningSettings:
    policy: AutonomyPolicy
    spot_check_share: float


def parse_policy_value(key: str, raw: str) -> str:
    """Validate one lead-set value; ``ValueError`` says what to type instead."""
    text = raw.strip()
    if key == "autonomy_min_reviews":
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"{key} must be a whole number of 1 or more, not {raw!r}")
        return str(int(text))
    if key in POLICY_KEYS:
        try:
            value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
        except ValueError:
            raise ValueError(f"{key} must be a number such as 0.95 or 95%, not {raw!r}") from None
        low_ok = value > 0 if key == "autonomy_target" else value >= 0
        high_ok = value < 1 if key == "autonomy_target" else value <= 1
        if not (low_ok and high_ok):
            raise ValueError(f"{key} must be between 0 and 1, not {raw!r}")
        return repr(value)
    raise ValueError(f"unknown setting {key!r}")


def policy_with(policy: AutonomyPolicy, key: str, stored: str) -> AutonomyPolicy:
    """``policy`` with one lead-set value changed (a dry run's "what if"); the window grows
    with ``min_reviews`` as ``load_learning_settings`` grows it."""
    if key == "autonomy_min_reviews":
        reviews = int(stored)
        return replace(policy, min_reviews=reviews, window=max(policy.window, reviews))
    if key == "autonomy_target":
        return replace(policy, target=float(stored))
    if key == "autonomy_sample":
        return replace(policy, sample_share=float(stored))
    return policy


async def load_learning_settings(sessions: SessionFactory, settings: Settings) -> LearningSettings:
    """The deploy's seeds overridden by what leads stored; a bad stored value falls back."""
    stored = {k: v for k, v in (await stored_settings(sessions)).items() if k in POLICY_KEYS}
    values: dict[str, float] = {
        "autonomy_min_reviews": settings.autonomy_min_reviews,
        "autonomy_target": settings.autonomy_target,
        "autonomy_sample": settings.autonomy_sample,
        "spot_check_share": settings.spot_check_share,
    }
    for key, raw in stored.items():
        try:
            values[key] = float(parse_policy_value(key, raw))
        except ValueError:
            log.warning("ignoring a bad stored autonomy setting", key=key, value=raw)
    min_reviews = int(values["autonomy_min_reviews"])
    policy = AutonomyPolicy(
        min_reviews=min_reviews,
        target=values["autonomy_target"],
        sample_share=values["autonomy_sample"],
        window=max(settings.autonomy_window, min_reviews),
    )
    return LearningSettings(policy, values["spot_check_share"])
