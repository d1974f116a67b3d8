"""``/signoff erase <email>``: a lead forgets a customer, in two steps.

The first command counts the customer's items, audits the request (who, how many items; never
the address) and answers with a confirmation code; the second, ``/signoff erase <email> <code>``
within ``CODE_WINDOW``, erases (``bot.erasure.request``). The code is an HMAC of the lead, the
address and the time window under a secret every instance shares, so the confirmation may land
on any instance and no pending request (with the address in it) is stored anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from sqlalchemy import func, select
from sqlmodel import col

from bot.erasure.request import ErasureTools, erase
from bot.settings import Settings
from bot.store import audit
from bot.store.database import transaction
from bot.store.models import Item
from handlers.commands.registry import CommandContext, CommandError, subcommand

CODE_WINDOW_SECONDS = 600


def _secret(settings: Settings) -> bytes:
    for secret in (settings.slack_signing_secret, settings.audit_key, settings.slack_bot_token):
        if secret is not None:
            return secret.get_secret_value().encode()
    raise CommandError("Erasure from Slack needs SLACK_SIGNING_SECRET or SIGNOFF_AUDIT_KEY.")


def confirmation_code(settings: Settings, user: str, email: str, window: int) -> str:
    message = f"erase\x00{user}\x00{email.lower()}\x00{window}".encode()
    return hmac.new(_secret(settings), message, hashlib.sha256).hexdigest()[:8]


def _address(word: str) -> str:
    """Slack turns an address into ``<mailto:a@b.example|a@b.example>``."""
    if word.startswith("<mailto:") and word.endswith(">"):
        word = word[len("<mailto:") : -1].split("|", 1)[0]
    if "@" not in word or len(word) > 320:
        raise CommandError("Say whose data: `/signoff erase <customer e-mail>`.")
    return word.strip().lower()


@subcommand(
    "erase",
    usage="erase <customer e-mail> [code]",
    summary="erase a customer's personal data (asks you to confirm)",
    lead_only=True,
)
async def erase_customer(ctx: CommandContext) -> str:
    if not ctx.args or len(ctx.args) > 2:
        raise CommandError("Usage: `/signoff erase <customer e-mail>`, then the code it gives.")
    email = _address(ctx.args[0])
    settings = ctx.rt.settings
    window = int(time.time()) // CODE_WINDOW_SECONDS
    if len(ctx.args) == 1:
        async with transaction(ctx.rt.sessions) as session:
            count = (
                await session.execute(
                    select(func.count())
                    .select_from(Item)
                    .where(func.lower(col(Item.customer_email)) == email)
                )
            ).scalar_one()
            await audit.record(
                session, "erasure_requested", actor=ctx.user_id, via="slack", items=int(count)
            )
        code = confirmation_code(settings, ctx.user_id, email, window)
        return (
            f"This erases the customer's personal data from *{count}* item(s), their audit "
            "content and the Slack cards, for good (decisions, amounts and counts stay). To "
            f"confirm within 10 minutes: `/signoff erase <the same address> {code}`"
        )
    given = ctx.args[1].strip().lower()
    expected = {confirmation_code(settings, ctx.user_id, email, w) for w in (window, window - 1)}
    if not any(hmac.compare_digest(given, code) for code in expected):
        raise CommandError(
            "That code does not match this address (or it is older than 10 minutes). "
            "Nothing was erased: run `/signoff erase <address>` again for a new code."
        )
    report = await erase(
        ErasureTools.of(ctx.rt), requested_by=ctx.user_id, via="slack", email=email
    )
    return f":wastebasket: Erased: {report.summary()}."
