"""The AI step: what a classifier returns (``assessment``), the embedded heuristic classifier,
the OpenAI classifier (``llm/``: prompt, model input, answer checks, usage, client), risk signals
in a customer's words, PII redaction before any model call, and the reviewers' past edits offered
as examples.
"""
