"""Bronze on a Spark Connect session: each micro-batch lands in the server's Python worker.

On a Connect session the `foreachBatch` function runs in a Python process the server starts for the
query (the server's interpreter and environment), not in the run's process, so it shares no object
with the run. The function is a `ConnectBatchLander`, pickled with what it needs:

- the lease: the run's process takes and renews it as it does in-process; the worker checks it in
  the store before and after each write (`checkpoint_lease.verify_held`), so a batch of a run that
  stalled or died writes nothing once the lease's fencing share of its ttl has passed;
- the landing itself: `land_batch`, with bronze's envelope parser when the server's sessions have
  it (the platform's server names the jar's extensions) and the jar's query-wide commit protocol
  (appends in place, replays through Spark's protocol), which the run sets before the query starts:
  a setting made from the worker reaches the client's session, not the query's copy of it;
- the continuity record (`streaming/landed_offsets.py`): the worker lives as long as the query, so
  it keeps the record's version from batch to batch as the run's process does in-process;
- the batch's tallies: `report-<epoch>-<batch>.json` in the checkpoint's lease folder (whatever
  writes the checkpoint writes there), which the run reads while the query runs (progress) and at
  its end (the run's stats), then deletes.

The worker reaches the store with the server's S3 settings and the AWS credential chain of its own
environment (`streaming/s3_access.py`): no key travels inside the pickled function.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import partial

from pyspark.sql import DataFrame

from streaming.bronze_batch import land_held_batch
from streaming.bronze_stats import BatchStats
from streaming.checkpoint_lease import LeaseRecord, LeaseStore, verify_held
from streaming.landed_offsets import Continuity, LandedOffsetsStore
from streaming.lease_stores import lease_store_for

REPORT_PREFIX = "report-"


def report_name(epoch: int, batch_id: int) -> str:
    """The report of batch `batch_id` landed under lease epoch `epoch`."""
    return f"{REPORT_PREFIX}{epoch:012d}-{batch_id:012d}.json"


@dataclass(frozen=True)
class BatchReport:
    """What one batch landed, and the run's continuity so far, as the worker tells the run."""

    batch_id: int
    stats: BatchStats
    #: Every continuity problem of the query so far (the last batch's report has them all).
    continuity_problems: list[str]
    continuity_known: bool

    def to_bytes(self) -> bytes:
        body = {
            "batch_id": self.batch_id,
            "rows": self.stats.rows,
            "quarantined": self.stats.quarantined,
            "offsets": {str(p): list(span) for p, span in self.stats.offsets.items()},
            "days": sorted(self.stats.days),
            "continuity_problems": self.continuity_problems,
            "continuity_known": self.continuity_known,
        }
        return json.dumps(body, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> BatchReport:
        body = json.loads(raw)
        offsets = {int(p): (int(lo), int(hi), int(n)) for p, (lo, hi, n) in body["offsets"].items()}
        stats = BatchStats(int(body["rows"]), int(body["quarantined"]), offsets, set(body["days"]))
        return cls(
            int(body["batch_id"]),
            stats,
            [str(p) for p in body["continuity_problems"]],
            bool(body["continuity_known"]),
        )


def write_report(store: LeaseStore, epoch: int, report: BatchReport) -> None:
    """Store `report` (replacing the one an earlier attempt in this epoch left)."""
    name = report_name(epoch, report.batch_id)
    if store.create(name, report.to_bytes()) is None:
        earlier = store.read(name)
        if earlier is None or store.replace(name, report.to_bytes(), earlier.etag) is None:
            raise RuntimeError(f"could not store {name}: another writer changed it")


class BatchReports:
    """The run's side: the reports its query's worker wrote under the run's lease epoch."""

    def __init__(self, store: LeaseStore, epoch: int) -> None:
        self._store = store
        self._mine = f"{REPORT_PREFIX}{epoch:012d}-"
        self._seen: dict[int, BatchReport] = {}

    def new(self) -> list[BatchReport]:
        """Reports not returned before, in batch order."""
        fresh = []
        for name in sorted(self._store.names()):
            if not name.startswith(self._mine):
                continue
            batch_id = int(name.removeprefix(self._mine).removesuffix(".json"))
            if batch_id in self._seen:
                continue
            stored = self._store.read(name)
            if stored is not None:
                report = BatchReport.from_bytes(stored.body)
                self._seen[batch_id] = report
                fresh.append(report)
        return fresh

    def last(self) -> BatchReport | None:
        """The report of the highest batch seen (its continuity covers the whole query)."""
        return self._seen[max(self._seen)] if self._seen else None

    def remove_all(self) -> None:
        """Delete every report in the folder: this run's, and any an earlier run left behind."""
        for name in self._store.names():
            if name.startswith(REPORT_PREFIX):
                self._store.delete(name)


@dataclass
class ConnectBatchLander:
    """The `foreachBatch` function of bronze's query on a Spark Connect server (see module doc)."""

    lake_root: str
    topic: str
    checkpoint: str
    #: The lease the run holds; batches land only while the store shows it live.
    holder: LeaseRecord
    #: The checkpoint's last planned batch when the query started (None: unknown, all may be replays).
    last_planned: int | None
    #: The server's sessions have bronze's parser (else `from_json`).
    jvm_parser: bool = False
    _store: LeaseStore | None = field(default=None, init=False, repr=False)
    _continuity: Continuity | None = field(default=None, init=False, repr=False)

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        if self._store is None or self._continuity is None:  # made in the worker, not pickled
            self._store = lease_store_for(batch.sparkSession, self.checkpoint)
            self._continuity = Continuity(LandedOffsetsStore(self._store))
        store = self._store
        stats = land_held_batch(
            batch,
            batch_id,
            lake_root=self.lake_root,
            topic=self.topic,
            checkpoint=self.checkpoint,
            last_planned=self.last_planned,
            still_held=partial(verify_held, store, self.checkpoint, self.holder),
            continuity=self._continuity,
            jvm_parser=self.jvm_parser,
            direct_appends=False,  # the query's protocol appends in place (`query_commit_protocol`)
        )
        report = BatchReport(batch_id, stats, list(self._continuity.problems), self._continuity.known)
        write_report(store, self.holder.epoch, report)
