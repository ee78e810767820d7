"""The broker-failure drill with authentication on: the platform's producer logs in with SCRAM over
TLS to the three-node cluster, the broker leading the most partitions is SIGKILLed as a batch
starts, and every record is still read back exactly once (by `event_id`); the dead broker then
rejoins over the authenticated inter-broker listener and the controllers' mutual TLS, and catches up.
"""

from __future__ import annotations

import pytest

from steam_devstack.kafka_drill import (
    crash_node_during,
    create_topic,
    durable_kafka,
    player_count_messages,
    produce_in_batches,
    restart_dead_nodes,
    wait_for_full_isr,
    wait_until_dead,
)
from steam_devstack.stack import LocalStack
from steam_platform.assets.bus.audit import event_id_of, leaders_per_broker, read_topic

pytestmark = [pytest.mark.kafka_security, pytest.mark.integration]

TOPIC = "test.secure.load"
RECORDS, BATCH, KILL_AT = 12_000, 2_000, 2


def test_a_broker_killed_mid_produce_loses_nothing_with_authentication_on(kafka_cluster: LocalStack) -> None:
    kafka = durable_kafka(kafka_cluster)
    assert kafka.security_protocol == "SASL_SSL" and kafka.sasl_mechanism == "SCRAM-SHA-512"
    create_topic(kafka, TOPIC, partitions=6)
    leaders = leaders_per_broker(kafka, TOPIC)
    assert sorted(leaders) == [1, 2, 3]
    victim = max(sorted(leaders), key=lambda b: leaders[b])

    messages = player_count_messages(TOPIC, RECORDS, n_apps=500)
    try:
        run = produce_in_batches(kafka, messages, BATCH, crash_node_during(kafka_cluster, victim, KILL_AT))
        wait_until_dead(kafka_cluster, victim)

        assert (run.sent, run.acked) == (RECORDS, RECORDS)
        after = leaders_per_broker(kafka, TOPIC)
        assert victim not in after and -1 not in after  # the dead broker's partitions got new leaders

        readout = read_topic(kafka, TOPIC, timeout_s=120)
        assert readout.complete
        assert readout.records == RECORDS and readout.duplicates == 0
        assert readout.ids == {event_id_of(m.value) for m in messages}
        assert set(readout.per_id.values()) == {1}
        assert readout.per_partition == run.per_partition  # consumed exactly what was acked
    finally:
        # The dead broker comes back (the session's other tests need the whole cluster): it
        # authenticates to the controllers and replicates over SASL_SSL until every ISR is full.
        restart_dead_nodes(kafka_cluster)
    wait_for_full_isr(kafka, [TOPIC], timeout_s=120)
    assert read_topic(kafka, TOPIC, timeout_s=120).records == RECORDS
