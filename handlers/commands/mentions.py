"""Reading what Slack puts in a slash command's text for a channel, a user or a user group.

With escaping on (``should_escape: true`` in the manifest) Slack sends ``<#C123|name>``,
``<@U123|name>`` and ``<!subteam^S123|@team>``, and ``&gt;`` for ``>``; a bare ID works too.
A plain ``#name`` cannot be turned into an ID without listing every channel, so it is refused
with what to type instead.
"""

from __future__ import annotations

import re

from handlers.commands.registry import CommandError

_CHANNEL = re.compile(r"<#([CG][A-Z0-9]{2,30})(?:\|[^>]{0,100})?>|([CG][A-Z0-9]{2,30})")
_USER = re.compile(r"<@([UW][A-Z0-9]{2,30})(?:\|[^>]{0,100})?>|([UW][A-Z0-9]{2,30})")
_GROUP = re.compile(r"<!subteam\^(S[A-Z0-9]{2,30})(?:\|[^>]{0,100})?>|(S[A-Z0-9]{2,30})")


def unescaped(word: str) -> str:
    """Undo Slack's three escapes (``&lt; &gt; &amp;``; ``&amp;`` last, so it is not undone
    twice)."""
    return word.replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")


def _one(pattern: re.Pattern[str], word: str, refusal: str) -> str:
    """The ID in ``word`` (escaped mention or bare ID), else ``refusal`` as the answer."""
    found = pattern.fullmatch(word.strip())
    if found is None:
        raise CommandError(refusal)
    return found.group(1) or found.group(2)


def channel_id(word: str) -> str:
    return _one(
        _CHANNEL,
        word,
        "Name the channel with `#` and pick it from Slack's list (so Slack sends its ID), "
        "or give its ID such as `C0123ABCD`.",
    )


def user_id(word: str) -> str:
    return _one(_USER, word, "Name the person with `@` and pick them from Slack's list.")


def group_id(word: str) -> str:
    return _one(
        _GROUP,
        word,
        "Name the user group with `@` and pick it from Slack's list (e.g. "
        "`reviewers:@billing-team`), or give its ID such as `S0123ABCD`.",
    )
