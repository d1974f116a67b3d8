"""Making an approved action happen: the last authority check before sending (``authorise``)
and the executors that send it (``sink``: the signed action sink, the log-only fallback, routing
by source). Vendor executors live in ``bot.vendors``.
"""
