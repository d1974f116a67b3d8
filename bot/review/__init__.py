"""What humans do with items: recording decisions (``decisions``), who may decide (``roster``),
edits checked in code (``edit_validation``), stale drafts, reminders/escalation/expiry
(``reminders``), the queue's read-only views (``queries``) and outcomes in words.
"""
