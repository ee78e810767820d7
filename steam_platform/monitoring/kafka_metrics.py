"""What Kafka holds that the platform has not dealt with: the lake's backlog and the dead letters.

Lake lag: per topic, the records past what the bronze landings read (the newest `to` offset per
partition in the `kafka_offsets` metadata of recent bronze materialisations) up to the topic's
end. Its age is the time since the newest landing while a backlog exists: an upper bound of the
oldest unlanded record's age, so the alert against the topic's `retention.ms` errs early, before
Kafka deletes what never landed. Dead letters: records ever written to the dead-letter topic (the
sum of its end offsets, a counter) and those it still holds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import ConfigResource, ResourceType
from dagster import DagsterInstance
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from steam_platform.core.sources import DEAD_LETTER_TOPIC, SOURCES
from steam_platform.resources.kafka import KafkaResource

#: The bronze materialisation metadata entry with the offsets read per partition
#: (`steam_platform/assets/lake/bronze.py`, `run_metadata`): `{partition: {"from", "to", "records"}}`.
OFFSETS_METADATA = "kafka_offsets"
#: Recent landings scanned for each partition's newest offset (a landing lists only the
#: partitions it read).
LANDINGS_SCANNED = 50
#: Per Kafka request: a scrape must finish within Prometheus' scrape timeout (10 s) even when Kafka
#: is down (one metadata request fails, and the source is reported down).
TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Landed:
    """What the lake read of one topic: next offset per partition, and when it last landed."""

    next_offsets: dict[int, int]
    landed_at: float | None


def landed(instance: DagsterInstance, bronze_asset: str) -> Landed:
    """The newest `to` offset per partition over the asset's recent materialisations."""
    result = instance.fetch_materializations(dg.AssetKey(bronze_asset), limit=LANDINGS_SCANNED)
    offsets: dict[int, int] = {}
    newest: float | None = None
    for record in result.records:
        newest = record.timestamp if newest is None else max(newest, record.timestamp)
        materialization = record.asset_materialization
        entry = materialization.metadata.get(OFFSETS_METADATA) if materialization else None
        for part, span in _json(entry).items():
            offsets[int(part)] = max(offsets.get(int(part), 0), int(span["to"]))
    return Landed(offsets, newest)


def _json(entry: Any) -> Mapping[str, Mapping[str, int]]:
    value = getattr(entry, "value", None)
    return value if isinstance(value, Mapping) else {}


def watermarks(kafka: KafkaResource, topics: Sequence[str]) -> dict[str, dict[int, tuple[int, int]]]:
    """(low, high) offsets per partition of each of `topics` that exists (one metadata request)."""
    meta = kafka.admin().list_topics(timeout=TIMEOUT_S)
    found = {t: meta.topics[t] for t in topics if t in meta.topics and meta.topics[t].error is None}
    if not found:
        return {}
    consumer = Consumer(kafka.consumer_config("steam-platform-metrics", **{"enable.auto.commit": False}))
    try:
        return {
            topic: {
                part: consumer.get_watermark_offsets(TopicPartition(topic, part), timeout=TIMEOUT_S)
                for part in sorted(described.partitions)
            }
            for topic, described in found.items()
        }
    finally:
        consumer.close()


def retention_seconds(kafka: KafkaResource, topics: Sequence[str]) -> dict[str, float]:
    """Each topic's `retention.ms` in seconds (topics with infinite retention are left out)."""
    if not topics:
        return {}
    admin = kafka.admin()  # held until the futures resolve (a dropped client cancels them)
    futures = admin.describe_configs([ConfigResource(ResourceType.TOPIC, t) for t in topics])
    out: dict[str, float] = {}
    for resource, future in futures.items():
        value = future.result(timeout=TIMEOUT_S)["retention.ms"].value
        if value is not None and int(value) > 0:
            out[resource.name] = int(value) / 1000
    return out


def lake_lag(marks: Mapping[int, tuple[int, int]], read: Landed, now: float) -> tuple[int, float]:
    """Records not yet landed, and the backlog's age bound (0 when nothing waits)."""
    waiting = sum(
        max(0, high - max(low, read.next_offsets.get(part, low))) for part, (low, high) in marks.items()
    )
    if waiting == 0:
        return 0, 0.0
    return waiting, (now - read.landed_at) if read.landed_at is not None else 0.0


#: Each topic the lake lands -> its bronze asset.
LAKE_TOPICS: Mapping[str, str] = {source.topic: source.bronze_asset for source in SOURCES}


def kafka_metrics(
    instance: DagsterInstance,
    kafka: KafkaResource,
    now: float | None = None,
    lake_topics: Mapping[str, str] = LAKE_TOPICS,
    dead_letter_topic: str = DEAD_LETTER_TOPIC,
) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    """Lake lag (records, age) per topic of `lake_topics`, their retention, and dead letters."""
    now = time.time() if now is None else now
    lag = GaugeMetricFamily(
        "steam_lake_kafka_lag_records", "Records in the topic the lake has not landed yet", labels=["topic"]
    )
    age = GaugeMetricFamily(
        "steam_lake_kafka_lag_age_seconds",
        "Upper bound of the age of the oldest record not landed yet (0 when nothing waits)",
        labels=["topic"],
    )
    retention = GaugeMetricFamily(
        "steam_kafka_topic_retention_seconds", "The topic's retention.ms, in seconds", labels=["topic"]
    )
    marks = watermarks(kafka, [*lake_topics, dead_letter_topic])  # topics not created yet are left out
    existing = [topic for topic in lake_topics if topic in marks]
    for topic in existing:
        waiting, oldest = lake_lag(marks[topic], landed(instance, lake_topics[topic]), now)
        lag.add_metric([topic], waiting)
        age.add_metric([topic], oldest)
    for topic, seconds in retention_seconds(kafka, existing).items():
        retention.add_metric([topic], seconds)
    dead = marks.get(dead_letter_topic, {})
    written = CounterMetricFamily(
        "steam_dead_letters", "Records ever written to the dead-letter topic", labels=["topic"]
    )
    held = GaugeMetricFamily(
        "steam_dead_letters_held", "Records the dead-letter topic still holds", labels=["topic"]
    )
    if dead:
        written.add_metric([dead_letter_topic], sum(high for _, high in dead.values()))
        held.add_metric([dead_letter_topic], sum(high - low for low, high in dead.values()))
    yield from (lag, age, retention, written, held)
