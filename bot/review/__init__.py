"""What humans do with items.

One module per command on a card: ``approve``, ``edit`` (save and approve), ``reject``,
``redraft``, ``retry``, ``reveal``; what they share: ``result`` (what a command answers) and
``decision_steps`` (lock, refuse, say what already happened); ``requirements`` (how many
approvals, and whose), ``edit_size``. Around them: who may decide (``roster``), edits checked in
code (``edit_validation``), stale drafts, reminders/escalation/expiry (``reminders``), the
queue's read-only views (``queries``) and outcomes in words (``outcomes``).
"""
