"""The LLM step: one structured OpenAI call per ticket that drafts a reply and assesses risk.

One job per module, in the order a call uses them:

* :mod:`~bot.assess.llm.prompt`: what the model is asked (the constant system prompt, the
  preamble, the answer's wire schema) and the hash that names that prompt in the audit log.
* :mod:`~bot.assess.llm.model_input`: the ticket as the model sees it (redacted, escaped JSON
  inside ``<ticket>`` tags) and the reviewers' past edits as examples.
* :mod:`~bot.assess.llm.answer`: the model's answer checked in code against the ticket, then
  personal data put back for this ticket only.
* :mod:`~bot.assess.llm.usage`: what one call cost, and the failure that carries it.
* :mod:`~bot.assess.llm.client`: :class:`~bot.assess.llm.client.OpenAIClassifier`, the
  ``Classifier`` over ``AsyncOpenAI`` with its concurrency cap, cache and retries.
"""
