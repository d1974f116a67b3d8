"""The App Home tab: the viewer's queue with the same buttons as the cards, counts by risk,
today's stats, the current thresholds and pause state, and for leads the controls to change them.

A Home view may hold 100 blocks; the queue shows at most ``QUEUE_LIMIT`` items (3 blocks each)
and points to ``/signoff pending`` for the rest.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.assess.pii_masking import masked, masked_action
from bot.durations import format_duration
from bot.lead_settings.registry import (
    ESCALATE_AFTER,
    EXPIRE_AFTER,
    QUORUM_AMOUNT,
    LeadSettings,
)
from bot.review.roster import Roles
from bot.slack.card import EDIT_ACTION, REJECT_ACTION, approve_button, button
from bot.slack.text import safe, truncate
from bot.stats.review_stats import ReviewStats
from bot.store.models import Item
from policies.risk_levels import RiskLevel
from policies.thresholds import (
    AUTO_MONEY_PER_CUSTOMER,
    AUTO_MONEY_PER_DAY,
    MAX_RISK,
    SETTABLE_RISKS,
)

QUEUE_LIMIT = 15
HOME_PAUSE = "signoff_home_pause"
HOME_RESUME = "signoff_home_resume"
HOME_SETTINGS = "signoff_home_settings"
SETTINGS_CALLBACK = "signoff_settings_submit"
SETTING_INPUT = "value"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}}


def _queue_entry(item: Item, roles: Roles) -> list[dict[str, Any]]:
    stale = " · :arrows_counterclockwise: *stale*" if item.stale_reason else ""
    votes = (
        f" · {len(item.approvals)}/{item.approvals_required} approvals" if item.approvals else ""
    )
    blocks: list[dict[str, Any]] = [
        _section(
            f"*{safe(masked(item.subject), 200)}* · {(item.risk_level or '?').upper()} · "
            f"{safe(masked_action(item), 120)}{votes}{stale}\n`{item.id}` · "
            f"{safe(item.customer_name, 100)}"
        )
    ]
    if roles.may_decide and not item.stale_reason:
        buttons = [
            approve_button(item, to_whom=False),
            button(EDIT_ACTION, "Edit", item),
            button(REJECT_ACTION, "Reject", item, style="danger"),
        ]
        blocks.append({"type": "actions", "block_id": f"home:{item.id}", "elements": buttons})
    return blocks


def home_view(
    *,
    roles: Roles,
    queue: Sequence[Item],
    queue_total: int,
    by_risk: dict[str, int],
    today: ReviewStats,
    lead_settings: LeadSettings,
    routes: Sequence[str] = (),
) -> dict[str, Any]:
    """``routes`` are the card routes in force, one described line each (``card_routes``)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Signoff"}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"You are a *{roles.title}*."
                    + ("" if roles.may_decide else " You can look, but not decide."),
                }
            ],
        },
    ]
    paused = lead_settings.thresholds.paused
    if paused:
        blocks.append(
            _section(":double_vertical_bar: *Auto-execution is paused.* Everything goes to review.")
        )
    counts = " · ".join(
        f"{level.value.upper()} {by_risk.get(level.value, 0)}" for level in RiskLevel
    )
    blocks.append(_section(f"*Waiting for review: {sum(by_risk.values())}* ({counts})"))
    blocks.append(_section("\n".join(today.lines())))
    blocks.append(
        _section("*Thresholds*\n" + "\n".join(f"• `{line}`" for line in lead_settings.as_lines()))
    )
    change = "\nChange them with `/signoff route …` and `/signoff route remove #n`." * roles.is_lead
    blocks.append(
        _section(
            "*Card routes* (first match wins; the rest go to the review channel)\n"
            + (
                "\n".join(f"• {line}" for line in routes)
                or "None: every card goes to the review channel."
            )
            + change
        )
    )
    if roles.is_lead:
        blocks.append(
            {
                "type": "actions",
                "block_id": "home_lead_controls",
                "elements": [
                    {
                        "type": "button",
                        "action_id": HOME_SETTINGS,
                        "text": {"type": "plain_text", "text": "Change thresholds"},
                        "value": "settings",
                    },
                    {
                        "type": "button",
                        "action_id": HOME_RESUME if paused else HOME_PAUSE,
                        "style": "primary" if paused else "danger",
                        "text": {
                            "type": "plain_text",
                            "text": "Resume auto-execution" if paused else "Pause auto-execution",
                        },
                        "value": "resume" if paused else "pause",
                    },
                ],
            }
        )
    blocks.append({"type": "divider"})
    title = "*Your queue*" if roles.may_decide else "*The queue*"
    blocks.append(_section(f"{title} (oldest first)" if queue else f"{title}: empty :tada:"))
    for item in queue[:QUEUE_LIMIT]:
        blocks.extend(_queue_entry(item, roles))
    if queue_total > min(len(queue), QUEUE_LIMIT):
        blocks.append(
            _section(f"…and {queue_total - min(len(queue), QUEUE_LIMIT)} more: `/signoff pending`")
        )
    return {"type": "home", "blocks": blocks[:100]}


# The settings the App Home modal holds (its block ids).
SETTINGS_FIELDS = (
    MAX_RISK,
    "refund_auto_limit",
    AUTO_MONEY_PER_CUSTOMER,
    AUTO_MONEY_PER_DAY,
    QUORUM_AMOUNT,
    ESCALATE_AFTER,
    EXPIRE_AFTER,
)


def settings_view(current: LeadSettings) -> dict[str, Any]:
    t = current.thresholds
    risk_options = [
        {"text": {"type": "plain_text", "text": level.value}, "value": level.value}
        for level in SETTABLE_RISKS
    ]
    chosen = next((o for o in risk_options if o["value"] == t.auto_approve_max_risk.value), None)

    def text_input(block_id: str, label: str, value: str) -> dict[str, Any]:
        return {
            "type": "input",
            "block_id": block_id,
            "label": {"type": "plain_text", "text": label},
            "element": {
                "type": "plain_text_input",
                "action_id": SETTING_INPUT,
                "initial_value": value,
                "max_length": 20,
            },
        }

    risk_select: dict[str, Any] = {
        "type": "static_select",
        "action_id": SETTING_INPUT,
        "options": risk_options,
    }
    if chosen is not None:
        risk_select["initial_option"] = chosen
    return {
        "type": "modal",
        "callback_id": SETTINGS_CALLBACK,
        "private_metadata": json.dumps({"origin": "home"}),
        "title": {"type": "plain_text", "text": "Thresholds"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": MAX_RISK,
                "label": {"type": "plain_text", "text": "Highest risk executed without a human"},
                "element": risk_select,
            },
            text_input(
                "refund_auto_limit",
                f"Refunds/credits above this ({t.currency}) always need a human",
                str(t.refund_auto_limit),
            ),
            text_input(
                AUTO_MONEY_PER_CUSTOMER,
                f"Most money ({t.currency}) one customer gets without a human in 30 days",
                str(t.auto_money_per_customer),
            ),
            text_input(
                AUTO_MONEY_PER_DAY,
                f"Most money ({t.currency}) all customers get without a human per UTC day",
                str(t.auto_money_per_day),
            ),
            text_input(
                QUORUM_AMOUNT,
                f"Refunds/credits above this ({t.currency}) need two approvers",
                str(current.quorum_amount),
            ),
            text_input(
                ESCALATE_AFTER,
                "Tell the leads after (e.g. 2h, 90m)",
                format_duration(current.escalate_after),
            ),
            text_input(
                EXPIRE_AFTER,
                "Expire unexecuted after (e.g. 24h, 3d)",
                format_duration(current.expire_after),
            ),
        ],
    }
