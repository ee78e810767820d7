"""Broker-failure drill on a local three-node Kafka: produce envelopes, crash a broker mid-run.

Shared by the load benchmark (`benchmarks/kafka_load_test.py`) and the integration tests
(`tests/bus/test_kafka_load.py`, `test_kafka_metrics.py`), so both prove the same thing:
with replication factor 3, `min.insync.replicas` 2 and `acks=all`, a broker that dies while the
platform produces loses nothing, and the cluster keeps accepting writes. With
`kafka_security="sasl_ssl"` the same drill runs against the authenticated cluster (SCRAM over TLS;
`tests/bus/test_secure_*.py`): the clients here take the stack's credentials and CA.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from steam_devstack.health import wait_until
from steam_devstack.services.kafka import KafkaService
from steam_devstack.services.kafka_tls import KafkaSecurity
from steam_devstack.stack import LocalStack
from steam_platform.assets.bus.audit import isr_sizes
from steam_platform.events.envelope import envelope
from steam_platform.resources.kafka import KafkaResource, OutgoingMessage, TopicSpec

SOURCE = "ISteamUserStats/GetNumberOfCurrentPlayers/v1"
START = datetime(2026, 10, 1, tzinfo=UTC)


@contextmanager
def three_node_stack(
    state_dir: Path, kafka_security: KafkaSecurity | str | None = None
) -> Iterator[LocalStack]:
    """A 3-node KRaft cluster (free ports, `state_dir`, plaintext or sasl_ssl), always stopped on exit."""
    stack = LocalStack(
        state_dir, brokers=3, only=["kafka"], prefer_default_ports=False, kafka_security=kafka_security
    )
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


def kafka_service(stack: LocalStack) -> KafkaService:
    """The stack's Kafka service (to stop or restart single nodes, read metric URLs)."""
    (svc,) = [s for s in stack.services if isinstance(s, KafkaService)]
    return svc


def stack_kafka(stack: LocalStack, **overrides: object) -> KafkaResource:
    """The platform's resource for the stack's cluster: its servers and, in sasl_ssl mode, its
    user, password and CA (`overrides` replace any setting, e.g. a wrong password)."""
    settings = {**kafka_service(stack).client_settings(), **overrides}
    return KafkaResource(**settings)


def durable_kafka(stack: LocalStack) -> KafkaResource:
    """The platform's resource with the production durability settings: RF 3, min ISR 2."""
    return stack_kafka(stack, replication_factor=3, min_insync_replicas=2)


def create_topic(kafka: KafkaResource, topic: str, partitions: int = 6) -> None:
    """Create `topic` through `ensure_topics` (RF and min ISR from the resource)."""
    (report,) = kafka.ensure_topics([TopicSpec(topic, partitions=partitions)])
    if not report.ok or report.replication_factor != kafka.replication_factor:
        raise RuntimeError(f"topic {topic} not created as wanted: {report}")
    # A created topic's partitions get their leaders a moment later (longer on a busy machine):
    # a drill that reads leaders or kills one must not start before.
    wait_until(
        lambda: _all_led(kafka, topic, partitions), what=f"leaders for every partition of {topic}", timeout=60
    )


def _all_led(kafka: KafkaResource, topic: str, partitions: int) -> bool:
    meta = kafka.admin().list_topics(topic, timeout=10).topics.get(topic)
    if meta is None or meta.error is not None or len(meta.partitions) != partitions:
        return False
    return all(p.leader >= 0 for p in meta.partitions.values())


def player_count_messages(topic: str, count: int, n_apps: int = 2000) -> list[OutgoingMessage]:
    """`count` player-count envelopes (~300 bytes, as the ingest assets send), keyed by appid.

    Apps cycle through `n_apps` Steam-like appids; each round is the next 10-minute poll slot, so
    every envelope has its own deterministic `event_id`. Built with the project's own envelope code
    (`steam_platform.events.envelope`).
    """
    messages = []
    for i in range(count):
        appid, slot = 10 * (i % n_apps) + 10, i // n_apps
        observed = START + timedelta(minutes=10 * slot)
        env = envelope(
            source=SOURCE,
            natural_key=(appid, observed.isoformat()),
            observed_at=observed,
            partition_key=observed.strftime("%Y-%m-%d-%H:00"),
            payload={"response": {"player_count": (appid * 7919 + slot) % 250_000, "result": 1}},
        )
        messages.append(OutgoingMessage(topic, key=str(appid), value=env.to_json_bytes()))
    return messages


@dataclass
class ProduceRun:
    """What one batched produce run achieved: acked counts, time, and the slowest batch."""

    sent: int = 0
    acked: int = 0
    bytes_acked: int = 0
    seconds: float = 0.0
    batch_seconds: list[float] = field(default_factory=list)
    per_partition: Counter[int] = field(default_factory=Counter)

    @property
    def records_per_s(self) -> float:
        return self.acked / self.seconds if self.seconds else 0.0

    def records_per_s_after(self, batch: int) -> float:
        """Throughput of the batches after `batch` (e.g. the steady state once a failover is over)."""
        size = self.acked / len(self.batch_seconds) if self.batch_seconds else 0
        seconds = sum(self.batch_seconds[batch + 1 :])
        return size * len(self.batch_seconds[batch + 1 :]) / seconds if seconds else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes_acked / 1e6 / self.seconds if self.seconds else 0.0


def produce_in_batches(
    kafka: KafkaResource,
    messages: list[OutgoingMessage],
    batch_size: int,
    on_batch_start: Callable[[int], None] | None = None,
) -> ProduceRun:
    """Produce `messages` with `produce_all` one batch at a time, as the ingest assets do.

    `on_batch_start(i)` runs right before batch `i` is handed to the producer (e.g. to crash a
    broker while that batch is in flight). Raises `KafkaDeliveryError` if any batch is not acked.
    """
    run = ProduceRun()
    started = time.perf_counter()
    for i in range(0, len(messages), batch_size):
        batch = messages[i : i + batch_size]
        if on_batch_start is not None:
            on_batch_start(i // batch_size)
        t0 = time.perf_counter()
        summary = kafka.produce_all(batch)
        run.batch_seconds.append(time.perf_counter() - t0)
        run.sent += len(batch)
        run.acked += summary.acked_total
        run.bytes_acked += summary.bytes_acked
        for (_, partition), n in summary.acked.items():
            run.per_partition[partition] += n
    run.seconds = time.perf_counter() - started
    return run


def crash_node(stack: LocalStack, node: int) -> None:
    """SIGKILL node `node`'s process group: a crash, no controlled shutdown, no flush."""
    pid = kafka_service(stack).processes()[node - 1].pid()
    if pid is None:
        raise RuntimeError(f"kafka node {node} is not running")
    os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)  # reap when this process started the broker (tests, benchmark)


def crash_node_during(stack: LocalStack, node: int, at_batch: int) -> Callable[[int], None]:
    """An `on_batch_start` hook that crashes `node` (SIGKILL) as batch `at_batch` starts.

    The kill runs in a thread, so the producer is already sending the batch when the broker dies.
    """

    def hook(batch: int) -> None:
        if batch == at_batch:
            threading.Thread(target=crash_node, args=(stack, node), daemon=True).start()

    return hook


def wait_until_dead(stack: LocalStack, node: int, timeout_s: float = 30.0) -> None:
    """Block (bounded) until `node`'s process is gone."""
    proc = kafka_service(stack).processes()[node - 1]
    wait_until(lambda: not proc.is_running(), what=f"kafka node {node} to die", timeout=timeout_s)


def restart_dead_nodes(stack: LocalStack) -> None:
    """Start the nodes that are not running again and wait until the cluster is whole."""
    kafka_service(stack).start()


def wait_for_full_isr(kafka: KafkaResource, topics: list[str], timeout_s: float = 120.0) -> None:
    """Block (bounded) until every partition of `topics` has all its replicas in sync again."""

    def full() -> bool:
        return all(n == kafka.replication_factor for t in topics for n in isr_sizes(kafka, t).values())

    wait_until(full, what="all replicas back in sync", timeout=timeout_s)


def node_data_bytes(stack: LocalStack, node: int, topics: Iterable[str]) -> int:
    """Bytes of log segments node `node` holds on disk for `topics` (all their partitions)."""
    wanted = set(topics)
    root = stack.state_dir / "data" / "kafka" / f"node-{node}"
    return sum(
        f.stat().st_size
        for d in root.iterdir()
        if d.is_dir() and d.name.rsplit("-", 1)[0] in wanted
        for f in d.glob("*.log")
    )
