"""Where bronze's landing stands per Kafka partition: each landing must continue it exactly.

The record lives in the checkpoint's lease folder; here in a local one (the S3 store is the same
protocol, tested with the lease in `test_checkpoint_lease.py`). No Spark, no server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streaming.bronze_stats import BatchStats
from streaming.landed_offsets import (
    Continuity,
    LandedOffsets,
    LandedOffsetsConflict,
    LandedOffsetsStore,
    continuity_problems,
)
from streaming.lease_stores import LocalLeaseStore


def _batch(**offsets: tuple[int, int]) -> BatchStats:
    """A landed batch: partition `p<n>` -> (first offset, last + 1)."""
    return BatchStats(rows=1, offsets={int(k[1:]): (lo, hi, hi - lo) for k, (lo, hi) in offsets.items()})


def test_a_batch_that_continues_the_record_has_no_problem() -> None:
    record = LandedOffsets().after(4, {0: (0, 10, 10), 1: (0, 5, 5)})
    assert continuity_problems(record, 5, {0: (10, 12, 2), 1: (5, 9, 4)}) == []
    # A partition never landed before may start anywhere (retention may have trimmed its start).
    assert continuity_problems(record, 5, {2: (40, 41, 1)}) == []


def test_skipped_and_relanded_offsets_are_named() -> None:
    record = LandedOffsets().after(4, {0: (0, 10, 10), 1: (0, 5, 5)})
    problems = continuity_problems(record, 5, {0: (12, 13, 1), 1: (3, 6, 3)})
    assert problems == [
        "partition 0: batch 5 starts at offset 12, but bronze had landed up to 9: offsets 10..11 "
        "were skipped",
        "partition 1: batch 5 starts at offset 3, but bronze had already landed up to 4: offsets 3..4 "
        "landed again",
    ]


def test_a_replay_of_the_last_recorded_batch_is_not_a_relanding() -> None:
    # Crash after the record was written, before Spark committed batch 4: Spark replays batch 4
    # with the same offsets (its files are replaced, nothing doubles).
    record = LandedOffsets().after(3, {0: (0, 10, 10)}).after(4, {0: (10, 20, 10)})
    assert continuity_problems(record, 4, {0: (10, 20, 10)}) == []
    # The same start under another batch id is offsets landed twice.
    assert "landed again" in continuity_problems(record, 5, {0: (10, 20, 10)})[0]


def test_the_record_survives_a_round_trip_through_its_store(tmp_path: Path) -> None:
    store = LandedOffsetsStore(LocalLeaseStore(tmp_path))
    assert store.read() is None
    record = LandedOffsets().after(7, {0: (0, 3, 3), 2: (5, 9, 4)})
    store.write(record)
    store.write(record.after(8, {2: (9, 11, 2)}))
    again = LandedOffsetsStore(LocalLeaseStore(tmp_path)).read()
    assert again == LandedOffsets({0: 3, 2: 11}, 8, {2: 9})


def test_a_record_changed_by_another_writer_is_a_conflict(tmp_path: Path) -> None:
    mine = LandedOffsetsStore(LocalLeaseStore(tmp_path))
    theirs = LandedOffsetsStore(LocalLeaseStore(tmp_path))
    mine.write(LandedOffsets().after(1, {0: (0, 1, 1)}))
    assert theirs.read() is not None
    theirs.write(LandedOffsets().after(2, {0: (1, 2, 1)}))
    with pytest.raises(LandedOffsetsConflict, match="changed by another writer"):
        mine.write(LandedOffsets().after(2, {0: (1, 5, 4)}))


def test_continuity_across_landings(tmp_path: Path) -> None:
    first = Continuity(LandedOffsetsStore(LocalLeaseStore(tmp_path)))
    assert not first.known  # the first landing: nothing to continue
    first.landed(0, _batch(p0=(0, 10)))
    first.landed(1, BatchStats())  # an empty batch changes nothing
    first.landed(2, _batch(p0=(10, 15), p1=(0, 4)))
    assert first.problems == []

    second = Continuity(LandedOffsetsStore(LocalLeaseStore(tmp_path)))
    assert second.known
    second.landed(3, _batch(p0=(15, 20), p1=(6, 7)))  # partition 1 skipped offsets 4 and 5
    assert second.problems == [
        "partition 1: batch 3 starts at offset 6, but bronze had landed up to 3: offsets 4..5 were skipped"
    ]
