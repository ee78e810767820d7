"""The Kafka offsets Spark planned for a bronze micro-batch, read from its checkpoint: a hint only.

Before Spark runs micro-batch N it writes `<checkpoint>/offsets/N`, the offset each Kafka partition
is read up to (its write-ahead log: a replay of N reads exactly the same records). Batch N starts
where entry N-1 ends; the first batch of a checkpoint where the source's initial offsets are
(`<checkpoint>/sources/0/0`). The offsets are the JSON `{"<topic>": {"<partition>": <offset>}}` of
Spark's Kafka source (the format of its `startingOffsets` option), on the last line of each file.

Bronze uses them for two things that need them before the batch is written, and never as a record
of what landed (that is always counted from the rows, `streaming/bronze.py`):

- which Kafka partitions the batch can hold, so its per-partition tallies are computed while its
  rows are written, in the same pass (`batch_tally.py`), and
- about how many records it holds, so a poll-sized batch is written as one file per day;

and, before the query starts, the highest batch id planned so far: a batch above it has never run
(every attempt of a batch runs after its entry was written), so no earlier attempt of it can have
left files to replace, and it is appended instead of replacing the partitions it writes.

An entry that cannot be read or parsed (another Spark version's layout) gives no hint: bronze then
tallies in a second pass and writes one file per task, slower but the same rows.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from pyspark.sql import SparkSession

from streaming.hadoop_fs import child_names, read_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedOffsets:
    """Where one micro-batch reads each Kafka partition up to, and (when known) where it starts."""

    end: dict[int, int]
    start: dict[int, int] | None = None

    @property
    def partitions(self) -> list[int]:
        """The topic's partitions when the batch was planned (each may hold no record of it)."""
        return sorted(self.end)

    @property
    def records(self) -> int | None:
        """Offsets the batch spans (records, plus any transaction markers); None when not known."""
        if self.start is None or not set(self.end) <= set(self.start):
            return None
        return sum(max(0, end - self.start[part]) for part, end in self.end.items())


def topic_offsets(text: str, topic: str) -> dict[int, int] | None:
    """`topic`'s partition -> offset from a checkpoint offsets file (its last JSON line naming it)."""
    for line in reversed(text.splitlines()):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        offsets = entry.get(topic) if isinstance(entry, dict) else None
        if isinstance(offsets, dict) and offsets:
            try:
                return {int(part): int(offset) for part, offset in offsets.items()}
            except (TypeError, ValueError):
                return None
    return None


def planned_offsets(spark: SparkSession, checkpoint: str, topic: str, batch_id: int) -> PlannedOffsets | None:
    """Batch `batch_id`'s planned offsets from the checkpoint, or None when they cannot be read."""
    root = checkpoint.rstrip("/")
    end_text = read_text(spark, f"{root}/offsets/{batch_id}")
    end = topic_offsets(end_text, topic) if end_text else None
    if end is None:
        return None
    before = f"{root}/offsets/{batch_id - 1}" if batch_id > 0 else f"{root}/sources/0/0"
    start_text = read_text(spark, before)
    return PlannedOffsets(end, topic_offsets(start_text, topic) if start_text else None)


def last_planned_batch(spark: SparkSession, checkpoint: str) -> int:
    """The highest batch id the checkpoint's offset log holds; -1 when it holds none (a new query)."""
    ids = [int(name) for name in child_names(spark, f"{checkpoint.rstrip('/')}/offsets") if name.isdigit()]
    return max(ids, default=-1)


def planned_offsets_hint(
    spark: SparkSession, checkpoint: str, topic: str, batch_id: int
) -> PlannedOffsets | None:
    """`planned_offsets`, as a hint: None (and a slower landing) when they cannot be read."""
    try:
        return planned_offsets(spark, checkpoint, topic, batch_id)
    except Exception as exc:  # the hint only speeds the landing up; the batch lands without it
        log.warning(f"reading batch {batch_id}'s planned offsets failed: {type(exc).__name__}: {exc}")
        return None


def last_planned_hint(spark: SparkSession, checkpoint: str) -> int | None:
    """The checkpoint's last planned batch before a query starts; None (every batch is then written
    as a possible replay) when the offset log cannot be listed."""
    try:
        return last_planned_batch(spark, checkpoint)
    except Exception as exc:  # only the faster append depends on it
        log.warning(f"listing the offset log of {checkpoint} failed: {type(exc).__name__}: {exc}")
        return None
