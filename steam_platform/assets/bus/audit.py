"""Audit the Kafka cluster the way an operator does after a broker incident.

The retrospective's Kafka kept every partition on one broker (whose disk filled) and lost records
when a broker died, and nobody watched it. These helpers answer the questions that matter, against
the real cluster and the brokers' own metrics (JMX exporter, `deploy/monitoring/kafka-jmx.yml`):

- did every produced record arrive exactly once (`read_topic`: every partition up to its high
  watermark, duplicates counted by the envelope's deterministic `event_id`)?
- is leadership spread over the brokers (`leaders_per_broker`)?
- what do the brokers report: under-replicated partitions, bytes in per topic, log size on disk
  (`scrape`, `BrokerMetrics`)?
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from confluent_kafka import Consumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from steam_platform.resources.kafka import KafkaResource


@dataclass(frozen=True)
class BrokerMetrics:
    """One scrape of a broker's metrics endpoint: every sample as (name, labels, value)."""

    url: str
    samples: tuple[tuple[str, dict[str, str], float], ...]

    def names(self) -> set[str]:
        """Every sample name served (counters include their `_total` suffix)."""
        return {name for name, _, _ in self.samples}

    def total(self, name: str, **labels: str) -> float:
        """Sum of the samples called `name` whose labels include `labels`."""
        return sum(
            value
            for sample, sample_labels, value in self.samples
            if sample == name and all(sample_labels.get(k) == v for k, v in labels.items())
        )


def scrape(url: str, timeout_s: float = 10.0) -> BrokerMetrics:
    """GET a Prometheus text endpoint and parse it with the Prometheus client's own parser."""
    response = requests.get(url, timeout=timeout_s)
    response.raise_for_status()
    samples = tuple(
        (sample.name, dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    )
    return BrokerMetrics(url, samples)


def leaders_per_broker(kafka: KafkaResource, topic: str, timeout_s: float = 10.0) -> Counter[int]:
    """How many partitions of `topic` each broker leads (-1: partitions without a leader)."""
    meta = kafka.admin().list_topics(topic, timeout=timeout_s).topics[topic]
    return Counter(p.leader for p in meta.partitions.values())


def isr_sizes(kafka: KafkaResource, topic: str, timeout_s: float = 10.0) -> dict[int, int]:
    """In-sync replica count per partition of `topic`."""
    meta = kafka.admin().list_topics(topic, timeout=timeout_s).topics[topic]
    return {p: len(info.isrs) for p, info in sorted(meta.partitions.items())}


def event_id_of(value: bytes) -> str:
    """The `event_id` of an envelope (docs/architecture.md, "Events and the bus") serialized as JSON."""
    return str(json.loads(value)["event_id"])


@dataclass
class TopicReadout:
    """Everything read back from a topic: counts per partition, bytes, and how often each id came."""

    records: int = 0
    bytes: int = 0
    per_partition: Counter[int] = field(default_factory=Counter)
    bytes_per_partition: Counter[int] = field(default_factory=Counter)
    #: Records per `event_id` (1 everywhere: nothing doubled).
    per_id: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    complete: bool = False

    @property
    def ids(self) -> set[str]:
        """Every `event_id` read."""
        return set(self.per_id)

    @property
    def unique(self) -> int:
        return len(self.per_id)


def read_topic(
    kafka: KafkaResource,
    topic: str,
    timeout_s: float = 120.0,
    id_of: Callable[[bytes], str] = event_id_of,
) -> TopicReadout:
    """Read every partition of `topic` from the start up to its current high watermark.

    Stops when every partition reached its end (`complete`) or after `timeout_s` (then
    `complete` is False and the counts show how far it got). Committed data only. The consumer uses
    the resource's security settings (SASL user, CA); a refused login or an untrusted broker
    certificate fails at once with what to fix (`KafkaResource.check_access`).
    """
    kafka.check_access()
    consumer = Consumer(kafka.consumer_config(group_id=f"audit-{uuid.uuid4()}"))
    readout = TopicReadout()
    try:
        meta = consumer.list_topics(topic, timeout=min(timeout_s, 30.0)).topics[topic]
        ends: dict[int, int] = {}
        for p in meta.partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30.0)
            if high > 0:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        positions = dict.fromkeys(ends, 0)
        deadline = time.monotonic() + timeout_s
        while any(positions[p] < ends[p] for p in ends) and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=5000, timeout=1.0):
                if msg.error():
                    continue
                partition, value = msg.partition() or 0, msg.value() or b""
                positions[partition] = (msg.offset() or 0) + 1
                readout.records += 1
                readout.bytes += len(value)
                readout.per_partition[partition] += 1
                readout.bytes_per_partition[partition] += len(value)
                event_id = id_of(value)
                if event_id in readout.per_id:
                    readout.duplicates += 1
                readout.per_id[event_id] += 1
        readout.complete = all(positions[p] >= ends[p] for p in ends)
    finally:
        consumer.close()
    return readout
