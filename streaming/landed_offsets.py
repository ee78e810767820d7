"""Where bronze's landing stands on each Kafka partition, so every landing is checked against it.

Bronze's promise is that the lake holds every Kafka offset of a topic exactly once, with none
missing in between. Proving it over the whole dataset on every landing reads the whole history
(a year of player counts is tens of millions of rows), so the proof is split instead:

- each landing holds each offset it read exactly once (`streaming/quality.py`
  `offsets_landed_once`, over the folders it wrote), and
- each landing starts where the previous one stopped: this module's record, per Kafka partition,
  of the offset after the last record landed, kept beside the checkpoint's lease and written only
  by the lease holder, micro-batch by micro-batch.

Together they give the whole dataset's property by induction, at the cost of what one landing
touched. A landing that finds no record (the first one, or a lake from before the record existed)
says so, and the bronze asset then reconciles the whole dataset once.

A micro-batch that Spark replays after a crash (same batch id, same offsets: its files are
replaced) may start before the recorded position when the crash came between the record's update
and Spark's commit; the record keeps the last batch's id and first offsets to recognise exactly
that case.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from streaming.bronze_stats import BatchStats
from streaming.checkpoint_lease import LeaseStore

#: The record's name in the checkpoint's lease folder (beside the lease's epoch files).
RECORD_NAME = "landed_offsets.json"


class LandedOffsetsConflict(RuntimeError):
    """The record changed under the lease holder: another writer wrote it (the lease was bypassed)."""


@dataclass(frozen=True)
class LandedOffsets:
    """Per Kafka partition, the offset after the last record landed; and the last batch recorded."""

    next_offset: dict[int, int] = field(default_factory=dict)
    last_batch: int | None = None
    #: The last recorded batch's first offset per partition (where a replay of it starts).
    last_batch_from: dict[int, int] = field(default_factory=dict)

    def expected_start(self, batch_id: int) -> dict[int, int]:
        """Where batch `batch_id` must start per partition: where the last one stopped, or, for a
        replay of the last recorded batch, where that batch started."""
        return dict(self.last_batch_from) if batch_id == self.last_batch else dict(self.next_offset)

    def after(self, batch_id: int, offsets: Mapping[int, tuple[int, int, int]]) -> LandedOffsets:
        """The record once batch `batch_id` landed `offsets` (partition -> (first, last + 1, n))."""
        next_offset = dict(self.next_offset)
        for part, (_, end, _) in offsets.items():
            next_offset[part] = end
        return LandedOffsets(next_offset, batch_id, {p: lo for p, (lo, _, _) in offsets.items()})

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "next_offset": {str(p): o for p, o in sorted(self.next_offset.items())},
                "last_batch": self.last_batch,
                "last_batch_from": {str(p): o for p, o in sorted(self.last_batch_from.items())},
            }
        ).encode()

    @classmethod
    def from_json(cls, body: bytes) -> LandedOffsets:
        raw = json.loads(body)
        return cls(
            {int(p): int(o) for p, o in raw["next_offset"].items()},
            raw["last_batch"],
            {int(p): int(o) for p, o in raw["last_batch_from"].items()},
        )


def continuity_problems(
    record: LandedOffsets, batch_id: int, offsets: Mapping[int, tuple[int, int, int]]
) -> list[str]:
    """How batch `batch_id` (partition -> (first, last + 1, n)) fails to continue `record`: offsets
    skipped (a gap) or read again (landed twice); empty when it continues it exactly. A partition
    the record has never seen starts anywhere (Kafka's retention may have trimmed its start)."""
    expected = record.expected_start(batch_id)
    problems = []
    for part, (first, _, _) in sorted(offsets.items()):
        if part not in expected or first == expected[part]:
            continue
        if first > expected[part]:
            problems.append(
                f"partition {part}: batch {batch_id} starts at offset {first}, but bronze had landed up "
                f"to {expected[part] - 1}: offsets {expected[part]}..{first - 1} were skipped"
            )
        else:
            problems.append(
                f"partition {part}: batch {batch_id} starts at offset {first}, but bronze had already "
                f"landed up to {expected[part] - 1}: offsets {first}..{expected[part] - 1} landed again"
            )
    return problems


class LandedOffsetsStore:
    """The record in the checkpoint's lease folder, replaced only if unchanged since it was read."""

    def __init__(self, store: LeaseStore) -> None:
        self._store = store
        self._etag: str | None = None

    def read(self) -> LandedOffsets | None:
        """The record, or None when none was written yet."""
        stored = self._store.read(RECORD_NAME)
        if stored is None:
            self._etag = None
            return None
        self._etag = stored.etag
        return LandedOffsets.from_json(stored.body)

    def write(self, record: LandedOffsets) -> None:
        """Store `record`; `LandedOffsetsConflict` when someone else wrote since our last read/write."""
        body = record.to_json()
        if self._etag is None:
            etag = self._store.create(RECORD_NAME, body)
        else:
            etag = self._store.replace(RECORD_NAME, body, self._etag)
        if etag is None:
            raise LandedOffsetsConflict(
                f"{RECORD_NAME} was changed by another writer while this one held the checkpoint's lease"
            )
        self._etag = etag


class Continuity:
    """Checks each landed micro-batch against where bronze's landing stood, then records it
    (`streaming/landed_offsets.py`); only the lease holder calls it."""

    def __init__(self, store: LandedOffsetsStore) -> None:
        self._store = store
        found = store.read()
        self.known = found is not None
        self._record = found or LandedOffsets()
        self.problems: list[str] = []

    def landed(self, batch_id: int, stats: BatchStats) -> None:
        """Batch `batch_id` landed `stats`: note how it fails to continue the record, then record it."""
        if not stats.offsets:
            return
        self.problems.extend(continuity_problems(self._record, batch_id, stats.offsets))
        self._record = self._record.after(batch_id, stats.offsets)
        self._store.write(self._record)
