"""What the platform's Kafka client takes and reports: topic specs, outgoing records, delivery counts.

Plain data, no client: `KafkaResource` (`resources/kafka.py`) creates topics from `TopicSpec`s,
produces `OutgoingMessage`s and answers with a `DeliverySummary`, or raises `KafkaDeliveryError`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TopicSpec:
    """A topic as the platform wants it: name, partition count, and per-topic configs."""

    name: str
    partitions: int = 6
    retention_ms: int = 7 * 24 * 3600 * 1000
    compression: str = "zstd"
    extra_config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicReport:
    """What `ensure_topics` found or did for one topic."""

    name: str
    action: str  # "created" | "exists" | "under-partitioned"
    partitions: int
    wanted_partitions: int
    replication_factor: int

    @property
    def ok(self) -> bool:
        return self.action in ("created", "exists")


@dataclass(frozen=True)
class OutgoingMessage:
    """One record to produce: key spreads load over partitions; headers carry e.g. DLQ reasons."""

    topic: str
    key: str
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class DeliverySummary:
    """Per-topic / per-partition counts of acknowledged records, and every failure."""

    acked: Counter[tuple[str, int]] = field(default_factory=Counter)
    bytes_acked: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def acked_total(self) -> int:
        return sum(self.acked.values())

    def per_topic(self) -> dict[str, int]:
        """Acknowledged records per topic."""
        totals: Counter[str] = Counter()
        for (topic, _), n in self.acked.items():
            totals[topic] += n
        return dict(totals)

    def per_partition(self, topic: str) -> dict[int, int]:
        """Acknowledged records per partition of `topic` (how evenly keys spread)."""
        return {p: n for (t, p), n in sorted(self.acked.items()) if t == topic}


class KafkaDeliveryError(RuntimeError):
    """Some records were not acknowledged by the cluster; nothing may be assumed delivered."""
