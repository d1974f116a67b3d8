"""The Slack app manifest Signoff needs, for a given public URL or for Socket Mode.

Why in code: ``python -m bot manifest --url https://…`` prints it ready to paste (Slack accepts a
JSON manifest, and JSON is also YAML), ``python -m bot doctor`` compares the scopes a token was
granted with :data:`BOT_SCOPES`, and ``manifest.yml`` in the repository is tested to be this
manifest for the example URL, so the three cannot drift apart.
"""

from __future__ import annotations

from typing import Any

EXAMPLE_URL = "https://signoff.example.com"

# Each scope and the Web API calls that need it (tests/unit/test_manifest.py checks both ways).
BOT_SCOPES: tuple[str, ...] = (
    "chat:write",  # post and update review cards, ephemeral answers, thread details
    "commands",  # the /signoff slash command
    "app_mentions:read",  # "@Signoff pending" in a channel
    "im:write",  # escalation DMs to leads (conversations.open)
    "usergroups:read",  # SIGNOFF_REVIEWER_GROUP and route groups (usergroups.users.list)
    "channels:read",  # /signoff route and `doctor`: is the bot in a public channel
    "groups:read",  # ... or a private one (conversations.info)
    "users:read",  # /signoff away reads dates and times in the person's time zone
    "users.profile:read",  # SIGNOFF_RESPECT_SLACK_STATUS: a status that expires later
    "dnd:read",  # SIGNOFF_RESPECT_SLACK_STATUS: Do Not Disturb
    "channels:history",  # `audit verify` reads back anchors in SIGNOFF_AUDIT_CHANNEL (public)
    "groups:history",  # ... or in a private audit channel
    "files:write",  # the weekly chart DMed to leads (files.getUploadURLExternal)
)

# What Socket Mode needs besides the bot token: an app-level token with this scope.
SOCKET_MODE_APP_TOKEN_SCOPE = "connections:write"  # noqa: S105 - a scope name, not a secret


def build_manifest(url: str | None = EXAMPLE_URL, *, socket_mode: bool = False) -> dict[str, Any]:
    """The manifest for an app whose requests reach ``{url}/slack/events``; with Socket Mode
    there are no request URLs (events arrive over the app token's WebSocket)."""
    if not socket_mode and not url:
        raise ValueError("a public URL is needed unless Socket Mode is used")
    events = f"{(url or '').rstrip('/')}/slack/events"
    command: dict[str, Any] = {
        "command": "/signoff",
        "description": "Review queue and controls for Signoff",
        "usage_hint": (
            "pending | show <id> | mine | stats | settings | set <k> <v> | change <k> <v> | "
            "routes | away <until> | help"
        ),
        # Channels, people and groups arrive as IDs (``<#C123|name>``), which /signoff route and
        # /signoff away read; ``>`` arrives as ``&gt;`` and is decoded.
        "should_escape": True,
    }
    interactivity: dict[str, Any] = {"is_enabled": True}
    event_subscriptions: dict[str, Any] = {"bot_events": ["app_mention", "app_home_opened"]}
    if not socket_mode:
        command["url"] = events
        interactivity["request_url"] = events
        event_subscriptions = {"request_url": events, **event_subscriptions}
        command = {"command": command.pop("command"), "url": command.pop("url"), **command}
    return {
        "display_information": {
            "name": "Signoff",
            "description": "A human in the loop of AI work on customer tickets.",
            "background_color": "#1f2a44",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": True,
            },
            "bot_user": {"display_name": "Signoff", "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": event_subscriptions,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }
