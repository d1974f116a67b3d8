"""Running ``/signoff`` the way Slack does: a signed slash-command request with a response URL on
the fake Slack, and the answer read back from that URL."""

from __future__ import annotations

import uuid

from tests.support.server_harness import REVIEWER, RunningServer, slash_command


def ask(server: RunningServer, text: str, *, user: str = REVIEWER) -> str:
    """Run ``/signoff text`` as ``user`` and return the answer, which only ``user`` sees."""
    assert server.slack is not None
    name = f"cmd-{uuid.uuid4().hex[:12]}"
    response = server.post_slack(
        slash_command(text, user=user, response_url=server.slack.response_url(name))
    )
    assert response.status_code == 200
    answer = server.slack.wait_for(f"response_url:{name}")[0].params
    assert answer["response_type"] == "ephemeral"
    return str(answer["text"])
