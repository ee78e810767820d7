"""The local Slack-compatible webhook the alert tests and the chaos benchmark read: what
Alertmanager posts is kept per attachment, found by state and alert name, and waited for (bounded)."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from steam_devstack.alert_webhook import webhook_receiver


def _post(url: str, *attachments: dict[str, str]) -> int:
    body = json.dumps({"attachments": list(attachments)}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return int(answer.status)


def test_posted_attachments_are_kept_and_found_by_state_and_name() -> None:
    with webhook_receiver("/services/T/B/x") as (receiver, url):
        assert url.startswith("http://127.0.0.1:") and url.endswith("/services/T/B/x")
        before = time.monotonic()
        status = _post(
            url,
            {"title": "[FIRING] KafkaBrokerDown", "text": "Kafka broker 2 is not answering"},
            {"title": "[FIRING:2] SteamRunFailed", "text": "two jobs"},
        )
        _post(url, {"title": "[RESOLVED] KafkaBrokerDown", "text": "Kafka broker 2 is not answering"})
        assert status == 200
        assert [m.title for m in receiver.snapshot()] == [
            "[FIRING] KafkaBrokerDown",
            "[FIRING:2] SteamRunFailed",
            "[RESOLVED] KafkaBrokerDown",
        ]
        fired = receiver.wait_for("FIRING", "KafkaBrokerDown", "broker 2", since=before, timeout=5)
        resolved = receiver.find("RESOLVED", "KafkaBrokerDown", since=fired.received_at)
        assert resolved is not None and resolved.received_wall >= fired.received_wall
        assert receiver.find("FIRING", "KafkaBrokerDown", "broker 3") is None


def test_waiting_for_a_message_that_never_comes_fails_with_what_arrived() -> None:
    with webhook_receiver() as (receiver, url):
        _post(url, {"title": "[FIRING] SteamLayerStale", "text": "lake"})
        with pytest.raises(AssertionError, match="SteamLayerStale"):
            receiver.wait_for("FIRING", "KafkaBrokerDown", timeout=0.5)
