"""Kafka monitoring against a real 3-node KRaft cluster: the brokers' JMX exporter agents serve
what the Grafana dashboard and the Prometheus alert rules query, and the replication metrics react
to a dead broker."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from steam_devstack.kafka_drill import (
    create_topic,
    durable_kafka,
    kafka_service,
    player_count_messages,
    restart_dead_nodes,
)
from steam_devstack.stack import LocalStack
from steam_platform.assets.bus.audit import BrokerMetrics, scrape

pytestmark = pytest.mark.integration

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
UNDER_REPLICATED = "kafka_server_replicamanager_underreplicatedpartitions"
#: Consumer-group lag is not a broker MBean: the dashboard reads it from kafka-exporter.
FROM_KAFKA_EXPORTER = {"kafka_consumergroup_lag"}
TOPIC = "test.metrics"


def queried_metric_names() -> set[str]:
    """Every broker metric name the Grafana dashboard panels and the alert rules query."""
    dashboard = json.loads((MONITORING / "grafana" / "dashboards" / "kafka.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    alerts = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    exprs += [rule["expr"] for group in alerts["groups"] for rule in group["rules"]]
    return {name for expr in exprs for name in re.findall(r"\b(?:kafka|jvm)_[a-z0-9_]+\b", expr)}


def poll_metrics(
    urls: list[str], until: Callable[[list[BrokerMetrics]], bool], timeout_s: float
) -> list[BrokerMetrics]:
    """Scrape `urls` until `until(scrapes)` holds; fail with the last values after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        scrapes = [scrape(url) for url in urls]
        if until(scrapes):
            return scrapes
        if time.monotonic() > deadline:
            values = [m.total(UNDER_REPLICATED) for m in scrapes]
            raise AssertionError(f"metrics did not reach the expected state in {timeout_s}s: {values}")
        time.sleep(1.0)


@pytest.fixture
def cluster(kafka_cluster: LocalStack) -> LocalStack:
    """The shared three-node cluster with this module's topic holding 600 records (made once)."""
    kafka = durable_kafka(kafka_cluster)
    if TOPIC not in kafka.admin().list_topics(timeout=30).topics:
        create_topic(kafka, TOPIC)
        kafka.produce_all(player_count_messages(TOPIC, 600))
    return kafka_cluster


def test_every_node_serves_metrics_on_loopback_and_status_shows_them(cluster: LocalStack) -> None:
    urls = cluster.endpoints()["KAFKA_METRICS_URLS"].split(",")
    assert urls == kafka_service(cluster).metrics_urls()
    assert len(set(urls)) == 3
    assert all(urlparse(u).hostname == "127.0.0.1" for u in urls)
    (row,) = [r for r in cluster.status() if r.name == "kafka"]
    assert row.healthy and row.endpoints["KAFKA_METRICS_URLS"] == ",".join(urls)

    scrapes = [scrape(u) for u in urls]
    assert [m.total(UNDER_REPLICATED) for m in scrapes] == [0, 0, 0]
    assert [m.total("kafka_controller_kafkacontroller_activecontrollercount") for m in scrapes].count(1) == 1
    # Leaders are spread: each node leads some of the topic's partitions and took produce traffic.
    assert all(m.total("kafka_server_brokertopicmetrics_messagesin_total", topic=TOPIC) > 0 for m in scrapes)
    total_in = sum(m.total("kafka_server_brokertopicmetrics_messagesin_total", topic=TOPIC) for m in scrapes)
    assert total_in == 600
    # Every node stores a replica of every partition (RF 3): log sizes per node are the same.
    sizes = [m.total("kafka_log_log_size", topic=TOPIC) for m in scrapes]
    assert min(sizes) > 0 and max(sizes) == min(sizes)


def test_dashboard_and_alert_metrics_are_all_served(cluster: LocalStack) -> None:
    wanted = queried_metric_names()
    # The brief's list is covered by the dashboard/alerts (a panel removed would be noticed here).
    assert {
        UNDER_REPLICATED,
        "kafka_server_replicamanager_isrshrinks_total",
        "kafka_server_brokertopicmetrics_bytesin_total",
        "kafka_server_brokertopicmetrics_bytesout_total",
        "kafka_server_brokertopicmetrics_messagesin_total",
        "kafka_log_log_size",
        "kafka_controller_kafkacontroller_offlinepartitionscount",
        "kafka_controller_kafkacontroller_activecontrollercount",
    } <= wanted
    served: set[str] = set()
    for url in kafka_service(cluster).metrics_urls():
        served |= scrape(url).names()
    assert wanted - FROM_KAFKA_EXPORTER - served == set()
    # Per-topic series exist for the platform's topic, per-partition log sizes for all 6 partitions.
    metrics = scrape(kafka_service(cluster).metrics_urls()[0])
    assert any(n == "kafka_server_brokertopicmetrics_bytesin_total" and lb.get("topic") == TOPIC
               for n, lb, _ in metrics.samples)  # fmt: skip
    partitions = {
        lb["partition"]
        for n, lb, _ in metrics.samples
        if n == "kafka_log_log_size" and lb.get("topic") == TOPIC
    }
    assert partitions == {str(p) for p in range(6)}


def test_under_replicated_partitions_rise_when_a_broker_stops_and_clear_after_restart(
    cluster: LocalStack,
) -> None:
    svc = kafka_service(cluster)
    urls = svc.metrics_urls()
    assert svc.processes()[2].stop(timeout=20)
    live = urls[:2]
    fenced = "kafka_controller_kafkacontroller_fencedbrokercount"

    def degraded(ms: list[BrokerMetrics]) -> bool:
        return sum(m.total(UNDER_REPLICATED) for m in ms) >= 6 and max(m.total(fenced) for m in ms) == 1

    scrapes = poll_metrics(live, degraded, timeout_s=60)
    # Node 3 held a replica of every partition: the live nodes report the ones they lead.
    assert sum(m.total(UNDER_REPLICATED) for m in scrapes) >= 6
    assert all(m.total("kafka_controller_kafkacontroller_offlinepartitionscount") == 0 for m in scrapes)
    # 2 of 3 replicas stay in sync: at min ISR, not below it, so acks=all writes still succeed.
    assert all(m.total("kafka_server_replicamanager_underminisrpartitioncount") == 0 for m in scrapes)
    # (KRaft: the controller drops the dead broker from the ISR, so the leaders' ISR-shrink meters
    # do not move; under-replicated partitions and the fenced-broker count are what report it.)

    restart_dead_nodes(cluster)
    healed = poll_metrics(urls, lambda ms: all(m.total(UNDER_REPLICATED) == 0 for m in ms), timeout_s=120)
    assert max(m.total(fenced) for m in healed) == 0
