"""Edges that receive input: Slack listeners and webhook receivers. Thin by design: parse,
verify, hand to ``bot``."""
