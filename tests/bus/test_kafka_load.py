"""A broker crashes while the platform produces envelopes to a 3-node cluster: nothing is lost.

The smaller, asserted twin of `benchmarks/kafka_load_test.py` (same drill helpers): RF 3, min ISR
2, acks=all, the broker leading the most partitions SIGKILLed as a batch starts; every record is
then read back exactly once, every partition got data, and load is spread over the brokers.
"""

from __future__ import annotations

import pytest

from steam_devstack.kafka_drill import (
    crash_node_during,
    create_topic,
    durable_kafka,
    kafka_service,
    node_data_bytes,
    player_count_messages,
    produce_in_batches,
    restart_dead_nodes,
    wait_for_full_isr,
    wait_until_dead,
)
from steam_devstack.stack import LocalStack
from steam_platform.assets.bus.audit import event_id_of, leaders_per_broker, read_topic, scrape

pytestmark = pytest.mark.integration

TOPIC = "test.load"
RECORDS, BATCH, KILL_AT = 24_000, 3_000, 3


def test_a_broker_killed_mid_produce_loses_and_duplicates_nothing(kafka_cluster: LocalStack) -> None:
    kafka = durable_kafka(kafka_cluster)
    create_topic(kafka, TOPIC, partitions=6)
    leaders = leaders_per_broker(kafka, TOPIC)
    assert sorted(leaders) == [1, 2, 3]
    assert max(leaders.values()) <= 2 * 6 / 3  # no broker leads more than twice its fair share
    victim = max(sorted(leaders), key=lambda b: leaders[b])

    messages = player_count_messages(TOPIC, RECORDS, n_apps=500)
    run = produce_in_batches(kafka, messages, BATCH, crash_node_during(kafka_cluster, victim, KILL_AT))
    wait_until_dead(kafka_cluster, victim)

    assert (run.sent, run.acked) == (RECORDS, RECORDS)
    after = leaders_per_broker(kafka, TOPIC)
    assert victim not in after and -1 not in after  # the dead broker's partitions got new leaders
    assert max(after.values()) <= 2 * 6 / 2

    readout = read_topic(kafka, TOPIC, timeout_s=120)
    assert readout.complete
    assert readout.records == RECORDS
    assert readout.duplicates == 0
    assert readout.ids == {event_id_of(m.value) for m in messages}
    assert sorted(readout.per_partition) == list(range(6))
    assert readout.per_partition == run.per_partition  # consumed exactly what was acked, per partition
    mean = RECORDS / 6
    assert all(0.5 * mean <= n <= 2 * mean for n in readout.per_partition.values()), readout.per_partition

    # The dead broker comes back, catches up, and every broker stores the same bytes again:
    # no single broker holds (and fills its disk with) the topic.
    restart_dead_nodes(kafka_cluster)
    wait_for_full_isr(kafka, [TOPIC], timeout_s=120)
    svc = kafka_service(kafka_cluster)
    log_sizes = [scrape(url).total("kafka_log_log_size", topic=TOPIC) for url in svc.metrics_urls()]
    disk = [node_data_bytes(kafka_cluster, n, [TOPIC]) for n in (1, 2, 3)]
    assert min(log_sizes) > 0 and max(log_sizes) <= 1.05 * min(log_sizes), log_sizes
    assert max(disk) <= 1.05 * min(disk), disk
