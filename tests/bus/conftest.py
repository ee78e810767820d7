"""The one three-node Kafka cluster of the test session, shared by every test that needs more than
one broker: replication and broker-failure drills (`test_kafka.py`, `test_kafka_load.py`), the
brokers' metrics (`test_kafka_metrics.py`) and authentication (`test_secure_*.py`).

It is what `stack up --brokers 3 --kafka-security sasl_ssl` starts: three KRaft nodes whose client
listener is SASL_SSL (SCRAM-SHA-512 over TLS, the stack's throwaway CA), in its own state folder on
free ports. Clients take its settings from `kafka_drill.stack_kafka`. Starting three JVMs and
formatting their storage costs about a minute on two cores, so it starts once (only if a test asks
for it) and is stopped, with whatever else the main run started in the same folder, once the last
test of its worker group has run (`worker_groups.stop_at_group_end`), or at the end of the session.
Tests that kill a broker get it back: `kafka_cluster` restarts dead nodes after each test, so the
next test finds the whole cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import worker_groups

from steam_devstack.health import wait_until
from steam_devstack.kafka_drill import restart_dead_nodes, stack_kafka, three_node_stack
from steam_devstack.stack import LocalStack


@pytest.fixture(scope="session")
def shared_kafka_cluster(stack_state_dir: Callable[[str], Path]) -> Iterator[LocalStack]:
    """The session's three-node SASL_SSL cluster (use `kafka_cluster` in tests)."""
    state = stack_state_dir("kafka-3-sasl-ssl")

    def down() -> None:
        LocalStack(state).down()  # the brokers and what `steam-platform run` started in this folder

    try:
        with three_node_stack(state, kafka_security="sasl_ssl") as stack:
            worker_groups.stop_at_group_end(worker_groups.KAFKA_GROUP, down)
            yield stack
    finally:
        down()


@pytest.fixture
def kafka_cluster(shared_kafka_cluster: LocalStack) -> Iterator[LocalStack]:
    """The shared three-node cluster, whole again after the test (dead brokers restarted)."""
    yield shared_kafka_cluster
    restart_dead_nodes(shared_kafka_cluster)
    wait_until(
        lambda: _fully_replicated(shared_kafka_cluster),
        what="every partition of the shared cluster fully in sync",
        timeout=180,
    )


def _fully_replicated(stack: LocalStack) -> bool:
    """Every partition of every topic has all its replicas in sync (none under-replicated)."""
    meta = stack_kafka(stack).admin().list_topics(timeout=10)
    return all(len(p.isrs) == len(p.replicas) for t in meta.topics.values() for p in t.partitions.values())
