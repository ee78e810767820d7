"""The platform's metrics exporter, source by source: what each number means, measured against
real servers where one is involved (the session's Kafka and Elasticsearch), and a whole scrape
of the local stack through a real Prometheus."""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest
from alert_support import fast_monitoring, webhook_receiver
from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from steam_devstack.health import free_port, wait_until
from steam_devstack.stack import LocalStack
from steam_platform.assets.lake.bronze import run_metadata
from steam_platform.monitoring.exporter import registry_for
from steam_platform.monitoring.kafka_metrics import kafka_metrics, lake_lag, landed
from steam_platform.monitoring.runs import run_metrics
from steam_platform.monitoring.service_metrics import budget_metrics, search_metrics
from steam_platform.resources.elasticsearch import ElasticsearchResource
from steam_platform.resources.kafka import KafkaResource, TopicSpec
from steam_platform.resources.kafka_records import OutgoingMessage
from steam_platform.resources.steam.budget import CallBudget, budget_scope
from steam_platform.resources.steam_api import SteamApiResource
from streaming.bronze_stats import BronzeStats
from streaming.hadoop_fs import FileStats


def value(families: Iterable[Metric], name: str, **labels: str) -> float | None:
    """The sample `name{labels}` of `families` (None when absent)."""
    for family in families:
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


def test_an_unreadable_source_is_reported_down_and_hides_no_other(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> list[Metric]:
        raise ConnectionError("http://es:9200/_count?key=s3cr3t-value refused")

    def fine() -> list[Metric]:
        gauge = GaugeMetricFamily("steam_fine", "a source that answers")
        gauge.add_metric([], 7)
        return [gauge]

    with caplog.at_level(logging.WARNING):
        text = generate_latest(registry_for({"broken": broken, "fine": fine})).decode()
    assert 'steam_metrics_source_up{source="broken"} 0.0' in text
    assert 'steam_metrics_source_up{source="fine"} 1.0' in text
    assert "steam_fine 7.0" in text
    assert "metrics source broken unreadable" in caplog.text and "s3cr3t-value" not in caplog.text


@dg.op
def _fails() -> None:
    raise RuntimeError("on purpose")


@dg.op
def _works() -> None:
    pass


def _job(name: str, op: dg.OpDefinition) -> dg.JobDefinition:
    return dg.GraphDefinition(name=name, node_defs=[op]).to_job()


def test_each_jobs_latest_finished_run_decides_its_failed_metric() -> None:
    daily, poll = _job("daily", _fails), _job("poll", _works)
    with dg.DagsterInstance.ephemeral() as instance:
        daily.execute_in_process(instance=instance, raise_on_error=False)
        for _ in range(3):  # a busy job's runs do not crowd the daily job's failure out
            poll.execute_in_process(instance=instance)
        families = list(run_metrics(instance, ["daily", "poll", "never_ran"], timedelta(hours=1)))
        assert value(families, "steam_job_last_run_failed", dagster_job="daily") == 1
        assert value(families, "steam_job_last_run_failed", dagster_job="poll") == 0
        assert value(families, "steam_job_last_run_failed", dagster_job="never_ran") is None
        ended = value(families, "steam_job_last_run_end_timestamp_seconds", dagster_job="daily")
        assert ended is not None and abs(ended - time.time()) < 60

        _job("daily", _works).execute_in_process(instance=instance)  # fixed: a later success
        families = list(run_metrics(instance, ["daily"], timedelta(hours=1)))
        assert value(families, "steam_job_last_run_failed", dagster_job="daily") == 0


def _landing(instance: dg.DagsterInstance, asset: str, offsets: dict[int, tuple[int, int]]) -> None:
    """A bronze materialisation with the metadata the lake's landing writes (`run_metadata`)."""
    spans = {p: {"from": lo, "to": hi, "records": hi - lo} for p, (lo, hi) in offsets.items()}
    stats = BronzeStats("t", sum(hi - lo for lo, hi in offsets.values()), 0, [0], spans, FileStats(1, 1), 1.0)
    metadata = run_metadata(stats, [date(2026, 1, 1)])
    instance.report_runless_asset_event(dg.AssetMaterialization(asset, metadata=metadata))


def test_the_lake_lag_counts_records_past_the_newest_landing_per_partition() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        assert landed(instance, "bronze_x").next_offsets == {}
        _landing(instance, "bronze_x", {0: (0, 10), 1: (0, 4)})
        _landing(instance, "bronze_x", {0: (10, 12)})  # a later landing read partition 0 only
        read = landed(instance, "bronze_x")
        assert read.next_offsets == {0: 12, 1: 4} and read.landed_at is not None
        now = read.landed_at + 90
        # Partition 2 was never landed: everything it still holds (5..9) waits.
        assert lake_lag({0: (0, 15), 1: (2, 4), 2: (5, 9)}, read, now) == (3 + 0 + 4, 90.0)
        assert lake_lag({0: (0, 12), 1: (0, 4)}, read, now) == (0, 0.0)  # all landed: no age
        # Retention deleted past a landing (low > landed): only what exists can wait.
        assert lake_lag({0: (20, 25)}, read, now) == (5, 90.0)


@pytest.fixture(scope="module")
def kafka(stack_env: dict[str, str]) -> KafkaResource:
    return KafkaResource(bootstrap_servers=stack_env["KAFKA_BOOTSTRAP_SERVERS"])


def _produce(kafka: KafkaResource, topic: str, n: int) -> None:
    kafka.produce_all(OutgoingMessage(topic, f"k{i}", b"{}") for i in range(n))


def test_kafka_metrics_count_the_lakes_backlog_against_retention_and_the_dead_letters(
    kafka: KafkaResource,
) -> None:
    suffix = uuid.uuid4().hex[:8]
    topic, dlq = f"test.monitoring.{suffix}", f"test.monitoring.dlq.{suffix}"
    kafka.ensure_topics([TopicSpec(topic, partitions=2), TopicSpec(dlq, partitions=1)])
    _produce(kafka, topic, 6)
    _produce(kafka, dlq, 3)
    with dg.DagsterInstance.ephemeral() as instance:
        families = list(
            kafka_metrics(instance, kafka, lake_topics={topic: "bronze_t"}, dead_letter_topic=dlq)
        )
        assert value(families, "steam_lake_kafka_lag_records", topic=topic) == 6  # nothing landed yet
        assert value(families, "steam_lake_kafka_lag_age_seconds", topic=topic) == 0  # age unknown
        retention = value(families, "steam_kafka_topic_retention_seconds", topic=topic)
        assert retention is not None and retention > 3600
        assert value(families, "steam_dead_letters_total", topic=dlq) == 3
        assert value(families, "steam_dead_letters_held", topic=dlq) == 3

        marks = {p.partition: p.offset for p in _ends(kafka, topic)}
        _landing(instance, "bronze_t", {p: (0, end) for p, end in marks.items()})  # the lake caught up
        _produce(kafka, topic, 2)
        later = time.time() + 30  # measured 30 s from now: the backlog is at most that old
        families = list(
            kafka_metrics(instance, kafka, now=later, lake_topics={topic: "bronze_t"}, dead_letter_topic=dlq)
        )
        assert value(families, "steam_lake_kafka_lag_records", topic=topic) == 2
        age = value(families, "steam_lake_kafka_lag_age_seconds", topic=topic)
        assert age is not None and 30 <= age < 90


def _ends(kafka: KafkaResource, topic: str) -> list:  # type: ignore[type-arg]
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(kafka.consumer_config("test-monitoring"))
    try:
        parts = kafka.admin().list_topics(topic=topic, timeout=10).topics[topic].partitions
        return [
            TopicPartition(topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p))[1])
            for p in parts
        ]
    finally:
        consumer.close()


def test_search_metrics_count_the_documents_behind_each_alias(es_resource: ElasticsearchResource) -> None:
    alias = f"monitoring_test_{uuid.uuid4().hex[:8]}"
    client = es_resource.client()
    try:
        client.perform("PUT", f"/{alias}-v1", body={"aliases": {alias: {}}})
        for i in range(3):
            client.perform("PUT", f"/{alias}-v1/_doc/{i}", params={"refresh": "true"}, body={"n": i})
        assert value(list(search_metrics(es_resource)), "steam_search_documents", alias=alias) == 3
    finally:
        client.perform("DELETE", f"/{alias}-v1")
        client.close()


def test_budget_metrics_report_todays_calls_and_the_limit(tmp_path: Path) -> None:
    steam = SteamApiResource(
        api_base_url="http://steam-api.invalid", api_key="k", budget_state_dir=str(tmp_path)
    )
    budget = CallBudget(
        tmp_path / "budget.sqlite", budget_scope("http://steam-api.invalid", "k"), 100, lease_size=5
    )
    for _ in range(7):
        budget.acquire()
    budget.release()  # a finished run hands back its unused lease
    families = list(budget_metrics(steam))
    assert value(families, "steam_api_budget_used_calls") == 7
    assert value(families, "steam_api_budget_daily_limit_calls") == steam.daily_call_budget


def _query(prometheus: str, expr: str, label: str = "source") -> dict[str, float]:
    """`expr`'s instant vector from Prometheus' HTTP API, by `label`."""
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        result = json.loads(resp.read())["data"]["result"]
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in result}


def test_the_stacks_exporter_serves_every_source_to_prometheus(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    """`stack up --monitoring`'s exporter on the session's stack: its Dagster instance (Postgres),
    Kafka, Elasticsearch and the Steam budget, all readable, scraped by a real Prometheus."""
    with webhook_receiver() as (_, url), fast_monitoring(tmp_path, url, stack=local_stack) as monitoring:
        prometheus = monitoring.url("prometheus")
        want = {"runs", "freshness", "player_count_gaps", "steam_budget"} | {
            name
            for svc, name in (("kafka", "kafka"), ("elasticsearch", "elasticsearch"))
            if svc in local_stack.started
        }
        wait_until(
            lambda: want <= set(_query(prometheus, "steam_metrics_source_up")),
            what="first scrape",
            timeout=90,  # the exporter's start and a first scrape on a busy machine
        )
        up = _query(prometheus, "steam_metrics_source_up")
        assert {source for source in want if up[source] != 1} == set(), up
        layers = _query(prometheus, "count(steam_asset_freshness_fail_window_seconds) by (layer)", "layer")
        assert {"lake", "warehouse", "marts", "search"} <= set(layers)  # the code location's policies


def test_kafka_and_elasticsearch_down_are_reported_within_a_scrape_timeout(tmp_path: Path) -> None:
    """Nothing listens: each source fails fast (one metadata request, one ES try), so Prometheus'
    10 s scrape still gets `steam_metrics_source_up == 0` instead of timing out the exporter."""
    kafka = KafkaResource(bootstrap_servers=f"127.0.0.1:{free_port()}")
    es = ElasticsearchResource(url=f"http://127.0.0.1:{free_port()}")
    with dg.DagsterInstance.ephemeral() as instance:
        sources = {
            "kafka": lambda: kafka_metrics(instance, kafka),
            "elasticsearch": lambda: search_metrics(es),
        }
        started = time.monotonic()
        text = generate_latest(registry_for(sources)).decode()
        took = time.monotonic() - started
    assert 'steam_metrics_source_up{source="kafka"} 0.0' in text
    assert 'steam_metrics_source_up{source="elasticsearch"} 0.0' in text
    assert took < 8, took
