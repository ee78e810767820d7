"""A broker that dies reaches a person as an alert, and so does its return.

The session's three-node cluster (its brokers serve the JMX exporter's metrics), scraped every
second by a real Prometheus evaluating `deploy/monitoring/alerts.yml` (every `for:` shortened to
0 s); Alertmanager posts Slack-compatible JSON to a webhook served by the test.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from alert_support import fast_monitoring, webhook_receiver

from steam_devstack.kafka_drill import crash_node, kafka_service, restart_dead_nodes, wait_until_dead
from steam_devstack.stack import LocalStack

pytestmark = pytest.mark.integration

VICTIM = 3
#: How much sooner than the stack's health check the broker may report RUNNING (one scrape).
SLACK_S = 3.0


def test_a_killed_broker_raises_an_alert_that_resolves_when_it_is_back(
    kafka_cluster: LocalStack, tmp_path: Path
) -> None:
    urls = kafka_service(kafka_cluster).metrics_urls()
    victim = urlsplit(urls[VICTIM - 1]).netloc
    with webhook_receiver() as (receiver, webhook), fast_monitoring(tmp_path, webhook, kafka_metrics=urls):
        time.sleep(2)  # a few healthy scrapes first: nothing about the brokers fires
        assert receiver.find("FIRING", "KafkaBrokerDown") is None

        killed = time.monotonic()
        crash_node(kafka_cluster, VICTIM)  # SIGKILL
        wait_until_dead(kafka_cluster, VICTIM)
        fired = receiver.wait_for("FIRING", "KafkaBrokerDown", f"Kafka broker {victim} is not answering")
        alive = [urlsplit(u).netloc for u in urls if urlsplit(u).netloc != victim]
        assert not any(receiver.find("FIRING", "KafkaBrokerDown", broker) for broker in alive)

        restarting = time.monotonic()
        restart_dead_nodes(kafka_cluster)  # returns once the broker answers clients again
        serving = time.monotonic()
        resolved = receiver.wait_for(
            "RESOLVED", "KafkaBrokerDown", victim, since=fired.received_at, timeout=60
        )
    # Not resolved by the JVM coming back (its metrics agent answers within a second): only once the
    # broker reports RUNNING, about when it serves clients (allowing a scrape and a notification).
    assert resolved.received_at > serving - SLACK_S, (resolved.received_at - restarting, serving - restarting)
    took = (fired.received_at - killed, serving - restarting, resolved.received_at - serving)
    print(f"broker killed -> alert {took[0]:.1f} s; restart {took[1]:.1f} s; resolved {took[2]:+.1f} s after")
