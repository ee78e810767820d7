"""What the platform's Kafka client takes and reports: topic specs, outgoing records, delivery counts.

Plain data, no client: `KafkaResource` (`resources/kafka.py`) creates topics from `TopicSpec`s,
produces `OutgoingMessage`s and answers with a `DeliverySummary`, or raises `KafkaDeliveryError`
(`RecordTooLarge` when a record exceeds its topic's limit, before anything is produced).
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


#: What Kafka's framing adds to a record's key, value and headers, at most: a v2 record batch header
#: (61 bytes) plus one record's length, attributes, timestamp and offset deltas (varints, <= 21).
RECORD_OVERHEAD_BYTES = 128
#: Framing of one record header (two length varints), at most.
HEADER_OVERHEAD_BYTES = 10


def record_size(message: OutgoingMessage) -> int:
    """Bytes `message` takes on the wire before compression, at most: what size limits are checked against.

    Uncompressed on purpose: the producer refuses a record whose uncompressed size passes its
    `message.max.bytes` (librdkafka checks at `produce`), and the compressed size of a batch is not
    known before it is sent, so only the uncompressed size gives the same answer on every run.
    """
    headers = sum(len(k.encode()) + len(v) + HEADER_OVERHEAD_BYTES for k, v in message.headers)
    return RECORD_OVERHEAD_BYTES + len(message.key.encode()) + len(message.value) + headers


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


class RecordTooLarge(KafkaDeliveryError):
    """A record is larger than its topic takes; raised before anything of the batch is produced.

    Retrying cannot help: the caller must divert the record (ingest dead-letters an excerpt).
    """
