"""Slack listeners: the Bolt app, buttons, modals, slash commands, App Home and spot checks.
Thin: parse, check who acts, hand the work to ``bot``.
"""
