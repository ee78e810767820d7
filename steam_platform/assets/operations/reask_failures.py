"""Failed partitions of re-askable assets, and what is to be done about each: wait, ask, give up.

Read from Dagster's own records, so nothing here needs a cursor and all of it survives a daemon
restart: an asset partition is failed when its latest planned materialisation belongs to a run
that failed without materialising it (`AssetPartitionStatus.FAILED`: the step failed, or was skipped
because its upstream did). The run that failed it says how many re-asks came before (the
`steam_platform/reask_attempt` tag of the runs the sensor requests; Dagster's run retries copy it),
whether Dagster's own run retries will still re-execute it (`dagster/will_retry`,
`dagster/auto_retry_run_id`), who launched it (the lake sensor's own runs carry its request tag) and
when it ended. The same reading feeds the sensor and the metrics exporter, so the count of
given-up partitions a person is alerted on is exactly what the sensor stopped asking for.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

import dagster as dg

from steam_platform.assets.lake.refresh_events import ACTIVE_STATUSES, REQUEST_TAG
from steam_platform.assets.lake.refresh_sensor import MAX_ATTEMPTS, RETRY_BACKOFF
from steam_platform.assets.operations.reask_targets import Target
from steam_platform.core.settings import ReaskSettings, RunSupervisionSettings

#: On every run the sensor requests: which re-ask it is (1, 2, ...), and the failed run it answers.
ATTEMPT_TAG = "steam_platform/reask_attempt"
REASK_OF_TAG = "steam_platform/reask_of"
#: On a failed run whose partitions were given up: why (tries used up, or the window passed).
GIVEN_UP_TAG = "steam_platform/reask_given_up"
#: Dagster's run-retry tags (`dagster._core.storage.tags`): the daemon will re-execute the run; the
#: re-execution it launched; which retry a run is; the most retries.
WILL_RETRY_TAG = "dagster/will_retry"
AUTO_RETRY_RUN_ID_TAG = "dagster/auto_retry_run_id"
RETRY_NUMBER_TAG = "dagster/retry_number"
MAX_RETRIES_TAG = "dagster/max_retries"
FAILURE_REASON_TAG = "dagster/failure_reason"
#: A run Dagster said it would retry, but whose retry never appeared this long after it ended (the
#: retry's launch failed), counts as not retried.
RETRY_GRACE = timedelta(minutes=10)


@functools.cache
def lake_handoff() -> timedelta:
    """How long a failure of the lake sensor's own run stays the lake sensor's to retry.

    `lake_refresh_sensor` asks a failed request again after 10, then 20 minutes
    (`RETRY_BACKOFF * 2^(n-1)`, `MAX_ATTEMPTS` tries), once no lake run is in flight (a lake run
    lasts at most `STEAM_MAX_RUNTIME_LAKE_S`). When no newer run for the partition appeared by its
    longest back-off plus one lake run, it waits for new data instead: the partition is then this
    sensor's, and it is never asked twice at once."""
    longest_backoff = RETRY_BACKOFF * 2 ** max(0, MAX_ATTEMPTS - 2)
    return longest_backoff + timedelta(seconds=RunSupervisionSettings.load().max_runtime_lake_s)


class State(Enum):
    """What the sensor does about a failed partition now."""

    WAITING = "waiting"  # its back-off (or the lake sensor's turn) has not passed
    RETRYING = "retrying"  # Dagster's own run retries will re-execute the failed run
    IN_FLIGHT = "in_flight"  # a run for it is queued or running
    DUE = "due"  # to be asked again now
    GIVEN_UP = "given_up"  # tries used up, or no longer re-askable


@dataclass
class FailedWork:
    """A job's failed partition: its failed assets and the newest run that failed them."""

    job: str
    partition: str
    assets: set[dg.AssetKey] = field(default_factory=set)
    run: dg.DagsterRun | None = None
    ended_at: float = 0.0
    reaskable_until: datetime | None = None
    in_flight: bool = False
    state: State = State.WAITING
    not_before: float = 0.0
    reason: str = ""

    @property
    def attempts(self) -> int:
        """Re-asks so far (the failed run's attempt tag; 0 when it was not a re-ask)."""
        assert self.run is not None
        return int(self.run.tags.get(ATTEMPT_TAG, "0") or 0)

    @property
    def lake_owned(self) -> bool:
        """Whether the failed run was requested by `lake_refresh_sensor` (it retries its own)."""
        assert self.run is not None
        return REQUEST_TAG in self.run.tags


def backoff(settings: ReaskSettings, attempts: int) -> timedelta:
    """The wait after the failure of re-ask `attempts` (0: the original run) before the next try."""
    seconds = settings.base_delay_s * settings.backoff_factor**attempts
    return timedelta(seconds=min(seconds, settings.max_delay_s))


def retries_pending(run: dg.DagsterRun, ended_at: float, now: float, instance: dg.DagsterInstance) -> bool:
    """Whether Dagster's run retries will still re-execute `run` (then the failure is theirs)."""
    if AUTO_RETRY_RUN_ID_TAG in run.tags:
        return False  # the retry exists; if it failed too, it is the newer failed run
    will_retry = run.tags.get(WILL_RETRY_TAG)
    recent = now - ended_at < RETRY_GRACE.total_seconds()
    if will_retry is not None:
        return will_retry == "true" and recent
    # The retry daemon has not judged the run yet: the same rules it applies (deploy/dagster.yaml).
    if not instance.run_retries_enabled or not recent:
        return False
    number = int(run.tags.get(RETRY_NUMBER_TAG, "0"))
    most = int(run.tags.get(MAX_RETRIES_TAG, str(instance.run_retries_max_retries)))
    step_failure = run.tags.get(FAILURE_REASON_TAG) == "STEP_FAILURE"
    return number < most and not (step_failure and not instance.run_retries_retry_on_asset_or_op_failure)


def _failed_partitions(
    instance: dg.DagsterInstance, target: Target, since: datetime
) -> tuple[list[str], list[str]]:
    """The asset's FAILED and IN_PROGRESS partition keys (snapshots: only periods that ended
    within the lookback; other assets: all, since an old news day can be backfilled today)."""
    partitions = target.partitions_def
    last = partitions.get_last_partition_key()
    if last is None:
        return [], []
    if target.snapshot:
        first = partitions.get_partition_key_for_timestamp(max(since, partitions.start).timestamp())
        keys = partitions.get_partition_keys_in_range(dg.PartitionKeyRange(first, last))
    else:
        keys = partitions.get_partition_keys()
    status = instance.get_status_by_partition(target.key, keys, partitions) or {}
    failed = [k for k, s in status.items() if s == dg.AssetPartitionStatus.FAILED]
    running = [k for k, s in status.items() if s == dg.AssetPartitionStatus.IN_PROGRESS]
    return failed, running


def _failing_run_id(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> str | None:
    """The run of the partition's latest planned materialisation (the one that failed it)."""
    info = instance.get_latest_planned_materialization_info(key, partition)
    return info.run_id if info is not None else None


def read_failed_work(
    instance: dg.DagsterInstance,
    targets: Mapping[dg.AssetKey, Target],
    settings: ReaskSettings,
    now: datetime,
) -> list[FailedWork]:
    """Every job partition with a failed re-askable asset whose failure ended within the lookback."""
    since = now - timedelta(hours=settings.lookback_hours)
    work: dict[tuple[str, str], FailedWork] = {}
    running: set[tuple[str, str]] = set()
    failing: dict[tuple[str, str], list[tuple[Target, str]]] = {}
    for target in targets.values():
        failed, in_progress = _failed_partitions(instance, target, since)
        running.update((target.job, p) for p in in_progress)
        for partition in failed:
            run_id = _failing_run_id(instance, target.key, partition)
            if run_id is not None:
                failing.setdefault((target.job, partition), []).append((target, run_id))
    run_ids = {run_id for entries in failing.values() for _, run_id in entries}
    records = {r.dagster_run.run_id: r for r in _run_records(instance, run_ids)}
    for (job, partition), entries in failing.items():
        for target, run_id in entries:
            record = records.get(run_id)
            if record is None or record.dagster_run.status != dg.DagsterRunStatus.FAILURE:
                continue
            ended = record.end_time or record.update_timestamp.timestamp()
            if ended < since.timestamp():
                continue
            item = work.setdefault((job, partition), FailedWork(job, partition))
            item.assets.add(target.key)
            if item.run is None or ended > item.ended_at:
                item.run, item.ended_at = record.dagster_run, ended
            item.reaskable_until = target.reaskable_until(
                partition, timedelta(hours=settings.snapshot_window_hours)
            )
    for (job, partition), item in work.items():
        item.in_flight = (job, partition) in running or _run_in_flight(instance, job, partition)
    return sorted(work.values(), key=lambda w: (w.ended_at, w.job, w.partition))


def _run_records(instance: dg.DagsterInstance, run_ids: Iterable[str]) -> list[dg.RunRecord]:
    ids = sorted(run_ids)
    records: list[dg.RunRecord] = []
    for start in range(0, len(ids), 100):
        records.extend(instance.get_run_records(filters=dg.RunsFilter(run_ids=ids[start : start + 100])))
    return records


def _run_in_flight(instance: dg.DagsterInstance, job: str, partition: str) -> bool:
    """A run of `job` for `partition` is queued, starting or running (planned events may not have
    been written yet)."""
    runs = instance.get_runs(
        dg.RunsFilter(job_name=job, tags={"dagster/partition": partition}, statuses=ACTIVE_STATUSES), limit=1
    )
    return bool(runs)


def judge(
    item: FailedWork, settings: ReaskSettings, instance: dg.DagsterInstance, now: datetime
) -> FailedWork:
    """Set what to do about `item` now, and from when (see `State`)."""
    assert item.run is not None
    moment = now.timestamp()
    if GIVEN_UP_TAG in item.run.tags:
        item.state, item.reason = State.GIVEN_UP, item.run.tags[GIVEN_UP_TAG]
    elif item.in_flight:
        item.state, item.reason = State.IN_FLIGHT, "a run for it is queued or running"
    elif retries_pending(item.run, item.ended_at, moment, instance):
        item.state, item.reason = State.RETRYING, "Dagster's run retries will re-execute it"
    elif item.attempts >= settings.max_tries:
        item.state, item.reason = State.GIVEN_UP, f"failed after {item.attempts} re-asks"
    elif item.reaskable_until is not None and now >= item.reaskable_until:
        item.state = State.GIVEN_UP
        item.reason = f"no longer re-askable after {item.reaskable_until.isoformat()} (a snapshot of now)"
    else:
        wait = backoff(settings, item.attempts)
        if item.lake_owned:
            wait = max(wait, lake_handoff())
        item.not_before = item.ended_at + wait.total_seconds()
        due = moment >= item.not_before
        item.state = State.DUE if due else State.WAITING
        item.reason = f"re-ask {item.attempts + 1} of {settings.max_tries}"
    return item
