"""What every pipeline step shares: its contract.

A step (:mod:`~bot.pipeline.assess_step`, :mod:`~bot.pipeline.route_step`,
:mod:`~bot.pipeline.execute_step`) takes the runtime, the claim token it holds (``holder``, the
value ``claim`` wrote into ``claimed_by``) and the item. It does its slow work (an LLM or HTTP
call) outside a transaction, then commits its result with one conditional ``move``
(``bot.store.items``) that names that token and returns the row as it left it. If the move loses
a race the step returns ``None`` and stops: another worker or a click already moved the item on.
Otherwise it returns the item as it now is, and :class:`~bot.pipeline.pipeline.Pipeline` runs
the next step.
"""
