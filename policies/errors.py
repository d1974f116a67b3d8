"""The one error of ``policies``: a value a person typed (or the database holds) that a rule
cannot use. ``policies`` imports nothing of ``bot``, so this is its own small root; the edges
turn it into ``bot.errors.UserInputError`` or ``SettingChangeRefusedError`` where a person sees
it."""

from __future__ import annotations


class PolicyInputError(ValueError):
    """The message says what was wrong and what a person should type instead."""
