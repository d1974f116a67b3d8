"""A local Slack workspace in the browser: the Web API the bot talks to, a page that renders what
it sent, and signed interactions forwarded to its real ``/slack/events``."""
