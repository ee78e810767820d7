"""The bronze checkpoint's writer lease, against the local stack's real S3 server (and a local folder).

The protocol (`streaming/checkpoint_lease.py`): one holder at a time, renewed while it writes,
refused to a second writer with the holder named, taken over only after it expired (and then only
after waiting out the old holder's ttl), lost (and writing refused) when taken over or not renewed.
Timings are short (ttl of a few seconds) so the suite stays fast.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from steam_platform.resources.s3 import S3Resource
from streaming.checkpoint_lease import (
    CheckpointLease,
    CheckpointLeaseHeld,
    CheckpointLeaseLost,
    LeaseRecord,
    LeaseStore,
    LeaseTiming,
    acquire,
    epoch_name,
    lease_location,
    verify_held,
)
from streaming.lease_stores import LocalLeaseStore, S3LeaseStore

pytestmark = pytest.mark.integration

FAST = LeaseTiming(ttl_s=3.0, heartbeat_s=0.5)
CHECKPOINT = "s3a://bucket/lake/_checkpoints/bronze_t"


@pytest.fixture
def store(s3: S3Resource) -> LeaseStore:
    """A fresh lease folder on the stack's S3 server."""
    return S3LeaseStore(s3.client(), s3.bucket, f"test-lease/{uuid.uuid4().hex[:10]}/bronze_t.lease")


def _epochs(store: LeaseStore) -> list[str]:
    return sorted(n for n in store.names() if n.startswith("epoch-"))


def test_the_lease_lives_beside_the_checkpoint() -> None:
    assert lease_location(CHECKPOINT + "/") == CHECKPOINT + ".lease"


def test_timing_keeps_two_renewals_inside_the_ttl() -> None:
    with pytest.raises(ValueError, match="at most a third"):
        LeaseTiming(ttl_s=10, heartbeat_s=4)


def test_acquire_renew_refuse_release(store: LeaseStore) -> None:
    lease = acquire(store, CHECKPOINT, "writer A", FAST)
    try:
        assert lease.record == LeaseRecord("writer A", 1, FAST.ttl_s)
        with pytest.raises(CheckpointLeaseHeld) as refused:
            acquire(store, CHECKPOINT, "writer B", FAST)
        assert "writer A" in str(refused.value) and CHECKPOINT in str(refused.value)
        assert refused.value.holder.owner == "writer A"

        # The heartbeat renews it: past its ttl it is still fresh, still held, still refused.
        time.sleep(FAST.ttl_s + 0.5)
        current = store.read(epoch_name(1))
        assert current is not None and current.age_s < FAST.ttl_s
        lease.check()
        with pytest.raises(CheckpointLeaseHeld, match="writer A"):
            acquire(store, CHECKPOINT, "writer B", FAST)
    finally:
        lease.release()

    # Released: the next writer takes it at once (no take-over wait) as the next epoch.
    started = time.monotonic()
    second = acquire(store, CHECKPOINT, "writer B", FAST)
    try:
        assert time.monotonic() - started < 1.0
        assert second.record.epoch == 2
        assert _epochs(store) == [epoch_name(2)]  # the replaced epoch was cleaned up
    finally:
        second.release()
    released = store.read(epoch_name(2))
    assert released is not None and LeaseRecord.from_bytes(released.body).released


def test_an_expired_lease_is_taken_over_after_the_old_holders_ttl(store: LeaseStore) -> None:
    # A writer that died holding the lease: its epoch is there and nobody renews it.
    assert store.create(epoch_name(1), LeaseRecord("dead writer", 1, 1.0).to_bytes())
    with pytest.raises(CheckpointLeaseHeld, match="dead writer"):
        acquire(store, CHECKPOINT, "next writer", FAST)

    time.sleep(2.2)  # > its 1 s ttl on the store's clock (whole seconds)
    started = time.monotonic()
    lease = acquire(store, CHECKPOINT, "next writer", FAST)
    try:
        waited = time.monotonic() - started
        assert 1.0 <= waited < 3.0  # waited out the dead writer's ttl before writing
        assert lease.record == LeaseRecord("next writer", 2, FAST.ttl_s)
        lease.check()
    finally:
        lease.release()


def test_a_holder_that_is_taken_over_loses_its_lease_and_refuses_to_write(store: LeaseStore) -> None:
    lease = acquire(store, CHECKPOINT, "stalled writer", FAST)
    try:
        # What a take-over creates: the next epoch (as if this holder had been seen expired).
        assert store.create(epoch_name(2), LeaseRecord("new writer", 2, FAST.ttl_s).to_bytes())
        deadline = time.monotonic() + 5
        while lease.lost_reason is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert lease.lost_reason is not None and "taken over by new writer" in lease.lost_reason
        with pytest.raises(CheckpointLeaseLost, match="new writer"):
            lease.check()
    finally:
        lease.release()
    # A lost lease is not released over its successor's.
    successor = store.read(epoch_name(2))
    assert successor is not None and LeaseRecord.from_bytes(successor.body).owner == "new writer"


def test_a_holder_that_cannot_renew_fences_itself(store: LeaseStore) -> None:
    now = [100.0]
    etag = store.create(epoch_name(1), LeaseRecord("writer", 1, FAST.ttl_s).to_bytes())
    assert etag
    record = LeaseRecord("writer", 1, FAST.ttl_s)
    lease = CheckpointLease(store, CHECKPOINT, record, etag, FAST, lambda: now[0])
    lease.renew()  # the store answers: valid for 3/4 ttl from this renewal
    now[0] += FAST.ttl_s * 0.7
    lease.check()
    now[0] += FAST.ttl_s * 0.1  # no renewal got through (a stall, the store unreachable)
    with pytest.raises(CheckpointLeaseLost, match="not renewed"):
        lease.check()


def test_a_writer_that_is_not_the_keeper_sees_what_the_keeper_would(store: LeaseStore) -> None:
    """`verify_held` (a Spark Connect worker's check of the run's lease): held while the keeper
    renews; lost once it is taken over, released, or left unrenewed past the fencing share."""
    lease = acquire(store, CHECKPOINT, "keeper", FAST)
    try:
        time.sleep(FAST.ttl_s)  # renewed all along by the keeper's thread
        verify_held(store, CHECKPOINT, lease.record)
        stranger = LeaseRecord("someone else", lease.record.epoch, FAST.ttl_s)
        with pytest.raises(CheckpointLeaseLost, match="no longer its writer's"):
            verify_held(store, CHECKPOINT, stranger)
    finally:
        lease.release()
    with pytest.raises(CheckpointLeaseLost, match="no longer its writer's"):  # released
        verify_held(store, CHECKPOINT, lease.record)

    unrenewed = LeaseRecord("stalled keeper", 1, 4.0)  # fencing share: 3 s on the store's clock
    store.delete(epoch_name(1))
    assert store.create(epoch_name(1), unrenewed.to_bytes())
    verify_held(store, CHECKPOINT, unrenewed)
    time.sleep(4.2)  # S3 times objects to the second: past 3 s for sure
    with pytest.raises(CheckpointLeaseLost, match="not renewed for"):
        verify_held(store, CHECKPOINT, unrenewed)

    assert store.create(epoch_name(2), LeaseRecord("new writer", 2, FAST.ttl_s).to_bytes())
    with pytest.raises(CheckpointLeaseLost, match="taken over by new writer"):
        verify_held(store, CHECKPOINT, unrenewed)


def _race(store: LeaseStore, writers: int) -> tuple[list[CheckpointLease], list[CheckpointLeaseHeld]]:
    won: list[CheckpointLease] = []
    refused: list[CheckpointLeaseHeld] = []
    gate = threading.Barrier(writers)

    def contend(i: int) -> None:
        gate.wait()
        try:
            won.append(acquire(store, CHECKPOINT, f"writer {i}", FAST))
        except CheckpointLeaseHeld as exc:
            refused.append(exc)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return won, refused


@pytest.mark.parametrize("backend", ["s3", "local"])
def test_writers_racing_for_a_free_lease_exactly_one_wins(
    backend: str, store: LeaseStore, tmp_path: Path
) -> None:
    if backend == "local":
        store = LocalLeaseStore(tmp_path / "bronze_t.lease")
    for round_ in range(3):  # a fresh lease, then one just released (twice)
        won, refused = _race(store, 8)
        assert len(won) == 1 and len(refused) == 7, (won, refused)
        winner = won[0].record.owner
        assert all(exc.holder.owner == winner and winner in str(exc) for exc in refused)
        assert won[0].record.epoch == round_ + 1
        won[0].release()
