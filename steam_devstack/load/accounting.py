"""Did every event arrive exactly once? Lost and doubled events per stage, and how evenly Kafka spread them.

Pure arithmetic on counts (no Spark, no servers), so the verdicts are unit-tested on their own.

An event id stage (bronze, the warehouse's fact tables) is compared with what was produced by three
numbers: rows, distinct event ids, and the *fingerprint* of the distinct ids: the sum of each id's
first 60 bits (15 hex digits) as an integer. Spark computes the same sum over the stored ids
(`counts.py`). Lost = produced - distinct, doubled = rows - distinct, and equal counts with a
different fingerprint mean ids were swapped (some lost, others not ours): counted as lost, at least
one. The load's topics and lake root are its own, so nothing else can be in them.

Aggregated stages (the mart, the search indices) are compared by the sums they must preserve:
`Comparison(name, expected, found)`; any difference fails the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: Hex digits of an event id that enter its fingerprint (60 bits: a Spark `long` holds it).
FINGERPRINT_HEX = 15


def id_fingerprint(event_id: str) -> int:
    """An event id's share of its stage's fingerprint: its first 60 bits as an integer."""
    return int(event_id[:FINGERPRINT_HEX], 16)


@dataclass
class IdTally:
    """How many events of one kind, and the fingerprint of their ids (produced side)."""

    count: int = 0
    fingerprint: int = 0

    def add(self, event_id: str) -> None:
        self.count += 1
        self.fingerprint += id_fingerprint(event_id)


@dataclass(frozen=True)
class IdCount:
    """What a stage holds of one kind of event: rows, distinct ids and their fingerprint."""

    rows: int
    distinct: int
    fingerprint: int


@dataclass(frozen=True)
class IdCheck:
    """One kind of event at one stage against what was produced."""

    stage: str
    expected: int
    rows: int
    distinct: int
    ids_match: bool

    @property
    def doubled(self) -> int:
        return self.rows - self.distinct

    @property
    def lost(self) -> int:
        missing = max(0, self.expected - self.distinct)
        return missing if self.ids_match else max(missing, 1)

    @property
    def ok(self) -> bool:
        return self.ids_match and self.doubled == 0

    def as_dict(self) -> dict[str, object]:
        return {
            "expected": self.expected,
            "rows": self.rows,
            "distinct_event_ids": self.distinct,
            "ids_match": self.ids_match,
            "lost": self.lost,
            "doubled": self.doubled,
        }


def check_ids(stage: str, produced: IdTally, found: IdCount) -> IdCheck:
    """`found` at `stage` against `produced`: the same ids, each once."""
    return IdCheck(
        stage=stage,
        expected=produced.count,
        rows=found.rows,
        distinct=found.distinct,
        ids_match=found.distinct == produced.count and found.fingerprint == produced.fingerprint,
    )


@dataclass(frozen=True)
class Comparison:
    """A figure an aggregated stage must preserve (e.g. the mart's samples = live fact rows)."""

    name: str
    expected: int
    found: int

    @property
    def ok(self) -> bool:
        return self.expected == self.found

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.found)

    @property
    def doubled(self) -> int:
        return max(0, self.found - self.expected)


@dataclass(frozen=True)
class Spread:
    """How evenly a topic's records fell on its partitions: max / mean (1.0 is perfectly even)."""

    per_partition: dict[int, int]

    @property
    def mean(self) -> float:
        return sum(self.per_partition.values()) / len(self.per_partition) if self.per_partition else 0.0

    @property
    def max(self) -> int:
        return max(self.per_partition.values(), default=0)

    @property
    def ratio(self) -> float:
        return self.max / self.mean if self.mean else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "per_partition": {str(p): n for p, n in sorted(self.per_partition.items())},
            "max": self.max,
            "mean": round(self.mean, 1),
            "max_over_mean": round(self.ratio, 3),
        }


def spread(acked: Mapping[tuple[str, int], int], topic: str, partitions: int) -> Spread:
    """`topic`'s acknowledged records per partition (partitions that got none count as 0)."""
    counts = dict.fromkeys(range(partitions), 0)
    for (name, partition), n in acked.items():
        if name == topic:
            counts[partition] = counts.get(partition, 0) + n
    return Spread(counts)
