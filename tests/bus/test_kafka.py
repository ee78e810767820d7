"""Kafka through the platform's resource, against the real KRaft broker(s) of the local stack."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

from steam_devstack.kafka_drill import durable_kafka
from steam_devstack.stack import LocalStack
from steam_platform.resources.kafka import (
    KafkaDeliveryError,
    KafkaResource,
    OutgoingMessage,
    TopicSpec,
)


def _consume_all(
    kafka: KafkaResource, topic: str, expected: int, timeout_s: float = 30.0
) -> list[tuple[str, bytes]]:
    """Read `topic` from the beginning until `expected` records arrived or the timeout passed."""
    import time

    consumer = Consumer(kafka.consumer_config(group_id=f"test-{uuid.uuid4()}"))
    consumer.subscribe([topic])
    records: list[tuple[str, bytes]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            records.append(((msg.key() or b"").decode(), msg.value() or b""))
    finally:
        consumer.close()
    return records


@pytest.fixture(scope="module")
def kafka(stack_env: dict[str, str]) -> KafkaResource:
    return KafkaResource(bootstrap_servers=stack_env["KAFKA_BOOTSTRAP_SERVERS"])


def test_produce_and_consume_every_record_spread_over_partitions(kafka: KafkaResource) -> None:
    topic = f"test.roundtrip.{uuid.uuid4().hex[:8]}"
    reports = kafka.ensure_topics([TopicSpec(topic, partitions=6)])
    assert [(r.action, r.partitions) for r in reports] == [("created", 6)]

    messages = [
        OutgoingMessage(topic, key=str(appid), value=f'{{"appid": {appid}}}'.encode()) for appid in range(300)
    ]
    summary = kafka.produce_all(messages)

    assert summary.acked_total == 300
    per_partition = summary.per_partition(topic)
    assert sorted(per_partition) == list(range(6)), per_partition
    assert max(per_partition.values()) <= 2 * 300 / 6
    received = _consume_all(kafka, topic, expected=300)
    assert sorted(received) == sorted((m.key, m.value) for m in messages)


def test_existing_topic_with_fewer_partitions_is_reported(kafka: KafkaResource) -> None:
    topic = f"test.short.{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics([TopicSpec(topic, partitions=2)])
    (report,) = kafka.ensure_topics([TopicSpec(topic, partitions=6)])
    assert report.action == "under-partitioned"
    assert (report.partitions, report.wanted_partitions) == (2, 6)
    assert not report.ok


def test_topic_configs_are_explicit(kafka: KafkaResource) -> None:
    from confluent_kafka.admin import ConfigResource

    topic = f"test.configs.{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics([TopicSpec(topic, partitions=3, retention_ms=3_600_000, compression="lz4")])
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    admin = kafka.admin()  # keep a reference: the futures die with the client
    configs = admin.describe_configs([resource])[resource].result(timeout=10)
    assert configs["retention.ms"].value == "3600000"
    assert configs["compression.type"].value == "lz4"
    assert configs["min.insync.replicas"].value == "1"


def test_unacknowledged_records_fail_the_batch_with_a_count(kafka: KafkaResource) -> None:
    # Auto-create is off on the brokers: records for a missing topic can never be acknowledged.
    impatient = kafka.model_copy(update={"delivery_timeout_ms": 3000})
    missing = f"test.missing.{uuid.uuid4().hex[:8]}"
    with pytest.raises(KafkaDeliveryError, match=r"5 of 5 records were not acknowledged"):
        impatient.produce_all([OutgoingMessage(missing, key=str(i), value=b"x") for i in range(5)])


def test_three_node_cluster_survives_a_dead_broker(kafka_cluster: LocalStack) -> None:
    kafka = durable_kafka(kafka_cluster)  # RF 3, min ISR 2
    topic = "test.replicated"
    (report,) = kafka.ensure_topics([TopicSpec(topic, partitions=6)])
    assert report.replication_factor == 3
    meta = kafka.admin().list_topics(topic, timeout=10).topics[topic]
    assert all(len(p.isrs) == 3 for p in meta.partitions.values())

    first = [OutgoingMessage(topic, key=str(i), value=f"a{i}".encode()) for i in range(100)]
    assert kafka.produce_all(first).acked_total == 100

    # Kill one broker (not the first: clients bootstrap from all three anyway).
    kafka_service = kafka_cluster.services[0]
    dead = kafka_service.processes()[2]
    assert dead.stop(timeout=20)
    second = [OutgoingMessage(topic, key=str(i), value=f"b{i}".encode()) for i in range(100)]
    assert kafka.produce_all(second).acked_total == 100  # min ISR 2 of the 2 live replicas

    received = _consume_all(kafka, topic, expected=200, timeout_s=60)
    assert sorted(v for _, v in received) == sorted(m.value for m in first + second)
    offsets = kafka.admin().list_topics(topic, timeout=10).topics[topic].partitions
    assert len(offsets) == 6
    _ = TopicPartition  # partitions were all readable with one broker down
