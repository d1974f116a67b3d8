"""What a conversation vendor (Intercom, Zendesk) is asked to write for an approved action.

Both hold only conversations: a reply goes to the customer, an escalation becomes a note that
teammates alone see (with the draft attached, marked as not sent), and anything else (a refund,
a record change) fails permanently, since pretending to do it there would be a silent loss.
"""

from __future__ import annotations

from bot.actions.sink import ActionRequest
from bot.errors import PermanentError


def reply_or_note(request: ActionRequest, vendor: str, escalated: str) -> tuple[bool, str]:
    """``(public, text)``: the reply for a ``reply``, else the ``escalated`` note for an
    ``escalate``; raise ``PermanentError`` for an empty reply or any other kind of action."""
    kind = request.action.get("kind")
    if kind == "reply":
        if not request.reply_text.strip():
            raise PermanentError(f"there is no reply text to send to {vendor}")
        return True, request.reply_text
    if kind != "escalate":
        raise PermanentError(
            f"{vendor} cannot perform a {kind!r} action; do it in the system of record"
        )
    if request.reply_text.strip():
        escalated += "\n\nDrafted reply, not sent to the customer:\n\n" + request.reply_text
    return False, escalated
