"""``/metrics`` tells an operator the truth about the queue and the outside world."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.support.server_harness import RunningServer, wait_until
from tests.support.ticket_factory import password_ticket, refund_ticket


def _samples(server: RunningServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = server.http.get(f"{server.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_metrics_report_queue_decisions_executions_and_slack_trouble(server: RunningServer) -> None:
    assert server.slack is not None
    auto = server.post_ticket(password_ticket()).json()["item_id"]
    server.wait_for_state(auto, "executed")
    server.slack.fail_next("chat.postMessage", 429, count=1, retry_after=1)
    pending = server.post_ticket(refund_ticket("400.00")).json()["item_id"]
    wait_until(lambda: server.item(pending).slack_ts, timeout=20, what="card posted")

    samples = _samples(server)
    assert samples[("signoff_items", (("state", "executed"),))] == 1
    assert samples[("signoff_items", (("state", "pending_review"),))] == 1
    assert samples[("signoff_items", (("state", "failed"),))] == 0
    assert samples[("signoff_decisions", (("outcome", "auto_approved"),))] == 1
    assert samples[("signoff_auto_execution_ratio", ())] == 1.0
    assert samples[("signoff_oldest_pending_seconds", ())] > 0
    assert samples[("signoff_executions_total", (("result", "executed"),))] == 1
    assert samples[("signoff_slack_api_retries_total", (("reason", "rate_limited"),))] == 1
