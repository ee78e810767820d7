"""One writer per bronze checkpoint: a lease next to the checkpoint, taken and kept by the job itself.

Why: two streaming queries on one checkpoint (the lake runs' availableNow landing and the
continuous `spark-submit` job, or a `spark-submit` whose launching run died) both write the offset
log and the commits; batch ids collide, offset ranges differ and exactly-once is gone. A convention
("run one or the other") does not hold through crashes, so the writer must hold a lease.

Where: `<checkpoint>.lease/` beside the checkpoint on the same store (the lake's S3 bucket; a local
folder for a `file:` lake), so whatever can write the checkpoint can take the lease, and nothing
else (no database, no ZooKeeper) has to be up. It is taken inside `run_bronze`, i.e. by the
streaming job itself: the in-process lake run and the `spark-submit` job (Pipes or by hand) are
covered alike, and a new way of launching the job cannot skip it.

The protocol, on an object store with one atomic primitive, create-if-absent (S3's
`PutObject` with `If-None-Match: *`, RFC 7232; AWS S3 since 2024, and the local stack's s3proxy,
whose filesystem store creates the object with a hard link that fails when the name exists):

- The lease is a sequence of epochs, `epoch-<n>.json`; the highest one is the current lease. Its
  record names the owner (job, host, pid, who launched it), the ttl, and whether it was released.
- Acquire: read the highest epoch. None yet, released, or expired (its age on the *store's* clock,
  the `Date` of the answer minus the object's `Last-Modified`, exceeds the holder's own ttl) ->
  create epoch n+1 if absent. Exactly one contender creates it; every other one gets a
  precondition failure, re-reads, and fails fast with `CheckpointLeaseHeld` naming the holder.
  Held and fresh -> the same error. The highest epoch is the lease: since superseded epochs are
  deleted, a slow contender may re-create a deleted lower number; it checks after creating that
  its epoch is the highest (and reads back its own record), else backs off and removes it.
- Renew (heartbeat, every `heartbeat_s`, from a thread while the query runs): the holder first
  checks that no epoch n+1 exists (nobody took over), then rewrites its own epoch with
  `If-Match: <its etag>`; only the holder ever writes its epoch, so the conditional overwrite needs
  no atomicity from the store (s3proxy checks `If-Match` before the write, AWS atomically).
- Self-fencing: the holder counts its lease valid until `renewal start + 3/4 ttl` (its own
  monotonic clock). Past that (a stalled driver, the store unreachable) or on seeing a successor,
  the lease is lost: `check()` raises `CheckpointLeaseLost` at the start of the next micro-batch,
  before it writes anything, and `run_bronze` stops the query within a second.
- Take-over of an *expired* (not released) lease waits one ttl after creating epoch n+1 (renewing
  its own epoch meanwhile): whatever the old holder did in flight, it has fenced itself by then.
  A released lease (the holder stopped its query, then released) is taken at once.
- Release on stop: the holder rewrites its epoch as `released`. A holder that dies simply stops
  renewing; its lease expires after its ttl and the next writer takes over (after the wait above).

Why not `If-Match` take-over of one lease object: s3proxy's filesystem store checks `If-Match`
and then writes, so two contenders that both saw the same expired etag could both succeed; with
epochs every contested step is a create-if-absent, which s3proxy (and S3) do atomically. Why not
a Hadoop `FileSystem.create(overwrite=false)`: on S3A it is a HEAD followed by a PUT, not atomic.
Old epochs are deleted by the holder that replaced them (best effort; a stray one is harmless).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from streaming.environment import BRONZE_LEASE_HEARTBEAT_S_ENV, BRONZE_LEASE_TTL_S_ENV

log = logging.getLogger(__name__)

LEASE_SUFFIX = ".lease"
EPOCH_PREFIX = "epoch-"
#: A holder counts its lease valid for this share of the ttl after a renewal started.
SELF_FENCE_SHARE = 0.75


class CheckpointLeaseError(RuntimeError):
    """Base of the lease errors (a re-run later is the remedy: nothing was written)."""


class CheckpointLeaseHeld(CheckpointLeaseError):
    """Another writer holds the checkpoint's lease; the message names it."""

    def __init__(self, checkpoint: str, holder: LeaseRecord, age_s: float) -> None:
        self.holder = holder
        super().__init__(
            f"checkpoint {checkpoint} is being written by {holder.owner} (lease epoch {holder.epoch}, "
            f"renewed {age_s:.0f}s ago, expires after {holder.ttl_s:.0f}s without renewal); "
            "not starting a second writer"
        )


class CheckpointLeaseLost(CheckpointLeaseError):
    """The writer lost its lease (taken over, or not renewed in time): it must write nothing more."""


@dataclass(frozen=True)
class LeaseTiming:
    """How long a lease lives without renewal, and how often the holder renews it."""

    ttl_s: float = 30.0
    heartbeat_s: float = 5.0

    def __post_init__(self) -> None:
        if self.ttl_s <= 0 or self.heartbeat_s <= 0 or self.heartbeat_s * 3 > self.ttl_s:
            raise ValueError(
                f"lease heartbeat ({self.heartbeat_s}s, ${BRONZE_LEASE_HEARTBEAT_S_ENV}) must be positive "
                f"and at most a third of the lease ttl ({self.ttl_s}s, ${BRONZE_LEASE_TTL_S_ENV})"
            )


@dataclass(frozen=True)
class LeaseRecord:
    """The content of one epoch: who holds it, for how long without renewal, and if it was released."""

    owner: str
    epoch: int
    ttl_s: float
    released: bool = False

    def to_bytes(self) -> bytes:
        body = {"owner": self.owner, "epoch": self.epoch, "ttl_s": self.ttl_s, "released": self.released}
        return json.dumps(body, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> LeaseRecord:
        body = json.loads(raw)
        return cls(str(body["owner"]), int(body["epoch"]), float(body["ttl_s"]), bool(body.get("released")))


@dataclass(frozen=True)
class Stored:
    """One object as read: its bytes, its version tag, and its age on the store's clock."""

    body: bytes
    etag: str
    age_s: float


class LeaseStore(Protocol):
    """The few operations the protocol needs, on the lease folder (S3 or a local folder)."""

    def create(self, name: str, body: bytes) -> str | None:
        """Create `name` if absent (atomically): its etag, or None when it exists."""

    def replace(self, name: str, body: bytes, etag: str) -> str | None:
        """Overwrite `name` if its etag is still `etag`: the new etag, or None when it changed."""

    def read(self, name: str) -> Stored | None:
        """The object, or None when absent."""

    def names(self) -> list[str]:
        """Names of the objects in the lease folder."""

    def delete(self, name: str) -> None:
        """Delete `name` (absent is fine)."""


def epoch_name(epoch: int) -> str:
    return f"{EPOCH_PREFIX}{epoch:012d}.json"


def _epochs(store: LeaseStore) -> list[int]:
    found = []
    for name in store.names():
        digits = name.removeprefix(EPOCH_PREFIX).removesuffix(".json")
        if name.startswith(EPOCH_PREFIX) and digits.isdigit():
            found.append(int(digits))
    return sorted(found)


def lease_location(checkpoint: str) -> str:
    """`<checkpoint>.lease`: the lease folder beside the checkpoint (outside what Spark manages)."""
    return checkpoint.rstrip("/") + LEASE_SUFFIX


def writer_identity(label: str) -> str:
    """Who a writer is, as the lease names it: the label, host, pid and a unique suffix."""
    return f"{label} (host {socket.gethostname()}, pid {os.getpid()}, id {uuid.uuid4().hex[:8]})"


class CheckpointLease:
    """A held lease: renewed by a daemon thread until released; `check()` before every write."""

    def __init__(
        self,
        store: LeaseStore,
        checkpoint: str,
        record: LeaseRecord,
        etag: str,
        timing: LeaseTiming,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.checkpoint = checkpoint
        self.record = record
        self._etag = etag
        self._timing = timing
        self._clock = clock
        self._valid_until = clock() + timing.ttl_s * SELF_FENCE_SHARE
        self._lost: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep, name=f"lease-{record.epoch}", daemon=True)

    @property
    def lost_reason(self) -> str | None:
        """Why the lease is lost, or None while it is held (the self-fencing deadline counts)."""
        with self._lock:
            if self._lost is None and self._clock() >= self._valid_until:
                fence_s = self._timing.ttl_s * SELF_FENCE_SHARE
                self._lost = (
                    f"lease on {self.checkpoint} not renewed for {fence_s:.0f}s "
                    "(stalled or the store unreachable); another writer may take it over"
                )
            return self._lost

    def check(self) -> None:
        """Raise `CheckpointLeaseLost` unless the lease is still held: call before writing."""
        reason = self.lost_reason
        if reason is not None:
            raise CheckpointLeaseLost(reason)

    def start_keeping(self) -> None:
        """Start renewing every `heartbeat_s` in a daemon thread."""
        self._thread.start()

    def renew(self) -> None:
        """One renewal: fails the lease when a successor exists or its epoch changed under it."""
        started = self._clock()
        if self.lost_reason is not None:
            return
        successor = self._store.read(epoch_name(self.record.epoch + 1))
        if successor is not None:
            taker = LeaseRecord.from_bytes(successor.body).owner
            self._lose(f"lease on {self.checkpoint} was taken over by {taker}")
            return
        etag = self._store.replace(epoch_name(self.record.epoch), self.record.to_bytes(), self._etag)
        if etag is None:
            self._lose(f"lease epoch {self.record.epoch} on {self.checkpoint} was changed by another writer")
            return
        with self._lock:
            if self._lost is None and self._clock() < self._valid_until:
                self._etag = etag
                self._valid_until = started + self._timing.ttl_s * SELF_FENCE_SHARE

    def _lose(self, reason: str) -> None:
        with self._lock:
            if self._lost is None:
                self._lost = reason
        log.warning(reason)

    def _keep(self) -> None:
        while not self._stop.wait(self._timing.heartbeat_s):
            if self.lost_reason is not None:
                return
            try:
                self.renew()
            except Exception as exc:  # the store unreachable: try again; self-fencing bounds it
                log.warning(f"renewing the lease on {self.checkpoint} failed: {type(exc).__name__}: {exc}")

    def release(self) -> None:
        """Stop renewing and mark the epoch released (the query has stopped), unless it was lost."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self._timing.ttl_s)
        if self.lost_reason is not None:
            return
        released = LeaseRecord(self.record.owner, self.record.epoch, self.record.ttl_s, released=True)
        try:
            self._store.replace(epoch_name(self.record.epoch), released.to_bytes(), self._etag)
        except Exception as exc:  # it then expires after its ttl instead
            log.warning(f"releasing the lease on {self.checkpoint} failed: {type(exc).__name__}: {exc}")


def verify_held(store: LeaseStore, checkpoint: str, record: LeaseRecord) -> None:
    """Raise `CheckpointLeaseLost` unless the store still shows `record`'s epoch as the live lease.

    For a writer that does not keep the lease itself: a query on a Spark Connect server runs its
    `foreachBatch` in the server's Python worker, while the run's process holds and renews the
    lease. Before and after writing, the worker checks what the holder's own `check()` stands for:
    no successor epoch, our epoch neither released nor changed hands, and renewed within the
    holder's self-fencing share of the ttl (the age on the store's clock). A holder that stalled
    or died stops renewing, and its worker writes nothing more once that share has passed.
    """
    successor = store.read(epoch_name(record.epoch + 1))
    if successor is not None:
        taker = LeaseRecord.from_bytes(successor.body).owner
        raise CheckpointLeaseLost(f"lease on {checkpoint} was taken over by {taker}")
    mine = store.read(epoch_name(record.epoch))
    current = LeaseRecord.from_bytes(mine.body) if mine is not None else None
    if mine is None or current is None or current.owner != record.owner or current.released:
        raise CheckpointLeaseLost(f"lease epoch {record.epoch} on {checkpoint} is no longer its writer's")
    fence_s = record.ttl_s * SELF_FENCE_SHARE
    if mine.age_s > fence_s:
        raise CheckpointLeaseLost(
            f"lease on {checkpoint} not renewed for {mine.age_s:.0f}s (over {fence_s:.0f}s: its holder "
            "stalled or is gone); another writer may take it over"
        )


def acquire(
    store: LeaseStore,
    checkpoint: str,
    owner: str,
    timing: LeaseTiming,
    *,
    wait_s: float = 0.0,
    sleep: Callable[[float], Any] = time.sleep,
) -> CheckpointLease:
    """Take the checkpoint's lease (see the module docstring), renewing it from then on.

    Raises `CheckpointLeaseHeld` naming the holder when another writer holds it and it did not
    become free within `wait_s` (default: fail at once).
    """
    deadline = time.monotonic() + wait_s
    while True:
        taken = _try_take(store, checkpoint, owner, timing)
        if isinstance(taken, tuple):
            lease, takeover_wait_s = taken
            lease.start_keeping()
            if takeover_wait_s:
                log.warning(f"took over an expired lease on {checkpoint}; waiting {takeover_wait_s:.0f}s")
                _wait_holding(lease, takeover_wait_s, sleep)
            return lease
        if time.monotonic() >= deadline:
            raise taken
        sleep(min(timing.heartbeat_s, max(0.1, deadline - time.monotonic())))


def _wait_holding(lease: CheckpointLease, seconds: float, sleep: Callable[[float], Any]) -> None:
    """Wait out the old holder's ttl while keeping the new lease; fail if it is lost meanwhile."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        sleep(min(left, 0.5))
        if lease.lost_reason is not None:
            lease.release()
            lease.check()


def _still_highest(store: LeaseStore, record: LeaseRecord) -> bool:
    """After creating `record`'s epoch: is it the highest, and ours?

    An epoch number can be created twice: a contender that listed before the holder of epoch n+1
    deleted epoch n may create a new epoch n after that deletion. The highest epoch wins, so the
    creator of a lower one backs off here. Reading ours back also catches a store that ignores
    `If-None-Match` (the last writer of the object is then the only one that sees itself).
    """
    if _epochs(store)[-1:] != [record.epoch]:
        return False
    mine = store.read(epoch_name(record.epoch))
    return mine is not None and LeaseRecord.from_bytes(mine.body).owner == record.owner


def _delete_quietly(store: LeaseStore, epoch: int) -> None:
    """Delete a superseded epoch (best effort: a stray lower epoch is never taken for the lease)."""
    try:
        store.delete(epoch_name(epoch))
    except Exception as exc:
        log.info(f"could not delete lease epoch {epoch}: {exc}")


def _try_take(
    store: LeaseStore, checkpoint: str, owner: str, timing: LeaseTiming, attempts: int = 5
) -> tuple[CheckpointLease, float] | CheckpointLeaseHeld:
    """One acquisition: the lease and how long to wait before writing, or who holds it."""
    for _ in range(attempts):
        epochs = _epochs(store)
        current = epochs[-1] if epochs else 0
        takeover_wait_s = 0.0
        if current:
            stored = store.read(epoch_name(current))
            if stored is None:  # deleted meanwhile by a newer holder: look again
                continue
            holder = LeaseRecord.from_bytes(stored.body)
            if holder.owner == owner and not holder.released:  # our create answered late (a retry)
                return CheckpointLease(store, checkpoint, holder, stored.etag, timing), 0.0
            if not holder.released and stored.age_s <= holder.ttl_s:
                if _epochs(store)[-1:] != [current]:  # a stray lower epoch (see `_still_highest`)
                    continue
                return CheckpointLeaseHeld(checkpoint, holder, stored.age_s)
            takeover_wait_s = 0.0 if holder.released else holder.ttl_s
        record = LeaseRecord(owner, current + 1, timing.ttl_s)
        etag = store.create(epoch_name(record.epoch), record.to_bytes())
        if etag is None:  # another writer created this epoch first: see who
            continue
        if not _still_highest(store, record):  # a newer epoch exists, or ours was overwritten
            if max(_epochs(store), default=0) > record.epoch:  # ours is a stray lower one
                _delete_quietly(store, record.epoch)
            continue
        for old in epochs:
            _delete_quietly(store, old)
        return CheckpointLease(store, checkpoint, record, etag, timing), takeover_wait_s
    raise CheckpointLeaseError(f"the lease on {checkpoint} kept changing; try again")
