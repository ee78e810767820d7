"""`reask_failed_work_sensor`: whatever can be asked again is, with back-off, until it is given up.

Dagster's run retries re-execute a failed run at once (a worker that died), and step retries
retry within the run: neither outlives a 30-minute outage of Steam, S3 or Elasticsearch.
`lake_refresh_sensor` retries its own lake runs twice (10 and 20 minutes later) and then waits for
new data. What was left failed: a news or app-catalogue day, a player-activity hour, a past day's
rebuild whose three tries all fell inside an outage, a partition launched from the UI or a backfill,
a mart or search day of the declarative automation (which asks again only when its upstream changes).

This sensor asks for each such partition again (`reask_failures.py` reads them from Dagster's
records), one run per job and partition, tagged `steam_platform/reask_attempt=<n>`:
- after `STEAM_REASK_BASE_DELAY_S * STEAM_REASK_BACKOFF_FACTOR^(n-1)` (at most
  `STEAM_REASK_MAX_DELAY_S`) from the end of the failure it answers;
- never while a run for it is queued or running, while Dagster's own run retries will re-execute
  the failed run, or while the lake sensor may still retry its own run (one mechanism per failure);
- a Steam job only when today's budget covers it and still leaves the scheduled polls their share
  (`reask_budget.py`); otherwise it is deferred, not dropped;
- at most `STEAM_REASK_MAX_REQUESTS_PER_TICK` runs per tick, the oldest failures first.

After `STEAM_REASK_MAX_TRIES` re-asks (or, for a snapshot, once its period is too old) the failed
run is tagged `steam_platform/reask_given_up` with the reason: never asked again, shown in the
UI (Runs, filter by that tag), counted by the exporter (`steam_reask_given_up_partitions`) and
alerted on (`SteamWorkGivenUp`). A success of the partition, by whatever run, clears it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg

from steam_platform.assets.ingest.schedules import INGEST_JOBS
from steam_platform.assets.lake.refresh_events import RANGE_END_TAG, RANGE_START_TAG
from steam_platform.assets.lake.refresh_sensor import MAX_DAYS_PER_RUN, lake_refresh_job
from steam_platform.assets.operations.reask_budget import BudgetView, budget_view, expected_calls
from steam_platform.assets.operations.reask_failures import (
    ATTEMPT_TAG,
    GIVEN_UP_TAG,
    REASK_OF_TAG,
    FailedWork,
    State,
    judge,
    read_failed_work,
)
from steam_platform.assets.operations.reask_targets import (
    LAKE_JOB,
    STEAM_JOB_DEFS,
    Target,
    lake_selection,
    reask_targets,
)
from steam_platform.core.settings import ReaskSettings
from steam_platform.resources.steam_api import SteamApiResource

SENSOR_NAME = "reask_failed_work_sensor"


def run_key(batch: list[FailedWork]) -> str:
    """Names the attempt, the partitions and the failures it answers (a later failure is new)."""
    first, last = batch[0], batch[-1]
    days = first.partition if len(batch) == 1 else f"{first.partition}..{last.partition}"
    failed = sorted({w.run.run_id for w in batch if w.run is not None})
    of = failed[0] if len(failed) == 1 else hashlib.sha256(" ".join(failed).encode()).hexdigest()[:16]
    return f"reask:{first.job}:{days}:attempt-{first.attempts + 1}:of-{of}"


def request_for(batch: list[FailedWork], graph: Any) -> dg.RunRequest:
    """The run that asks for `batch` again (one partition, or a range of lake days with the same
    failed assets and tries): its failed ingest assets, or the failed lake assets and everything
    downstream of them."""
    first, last = batch[0], batch[-1]
    assert first.run is not None
    selection = lake_selection(graph, first.assets) if first.job == LAKE_JOB else sorted(first.assets)
    newest = max(batch, key=lambda w: w.ended_at).run
    assert newest is not None
    tags = {ATTEMPT_TAG: str(first.attempts + 1), REASK_OF_TAG: newest.run_id}
    if len(batch) > 1:  # one run over the range, as the lake's single-run backfill policy wants
        tags |= {RANGE_START_TAG: first.partition, RANGE_END_TAG: last.partition}
    return dg.RunRequest(
        run_key=run_key(batch),
        job_name=first.job,
        partition_key=first.partition if len(batch) == 1 else None,
        asset_selection=selection,
        tags=tags,
    )


def batches(due: list[FailedWork]) -> list[list[FailedWork]]:
    """Due work in runs: each Steam partition alone; lake days with the same failed assets and the
    same tries together, at most `MAX_DAYS_PER_RUN` days apart (a 30-minute outage fails a range
    run's days together: they are asked again in one run, with one Spark session). Oldest first."""
    groups: dict[tuple[Any, ...], list[FailedWork]] = {}
    for item in due:
        key = (
            (item.job, frozenset(item.assets), item.attempts)
            if item.job == LAKE_JOB
            else (item.job, item.partition)
        )
        groups.setdefault(key, []).append(item)
    runs: list[list[FailedWork]] = []
    for items in groups.values():
        items.sort(key=lambda w: w.partition)
        run: list[FailedWork] = []
        for item in items:
            if (
                run
                and (date.fromisoformat(item.partition) - date.fromisoformat(run[0].partition)).days
                >= MAX_DAYS_PER_RUN
            ):
                runs.append(run)
                run = []
            run.append(item)
        runs.append(run)
    return sorted(runs, key=lambda r: min(w.not_before for w in r))


def steam_job_assets(graph: Any) -> dict[str, Any]:
    """Each ingest job's assets (the jobs whose runs spend the Steam budget)."""
    return {job.name: job.selection.resolve(graph) for job in INGEST_JOBS}


def give_up(instance: dg.DagsterInstance, item: FailedWork, log: Any) -> None:
    """Record, on the failed run, that its partition is given up (once)."""
    assert item.run is not None
    if GIVEN_UP_TAG in item.run.tags:
        return
    instance.add_run_tags(item.run.run_id, {GIVEN_UP_TAG: item.reason})
    log.warning(
        f"{item.job} {item.partition}: given up ({item.reason}); failed run {item.run.run_id}. "
        "Re-run it by hand once the cause is fixed."
    )


def evaluate(
    context: dg.SensorEvaluationContext,
    steam: SteamApiResource,
    settings: ReaskSettings,
    now: datetime | None = None,
) -> dg.SensorResult:
    """One tick: judge every failed partition, record the given-up ones, request the due ones."""
    moment = now or datetime.now(UTC)
    instance = context.instance
    assert context.repository_def is not None, "the sensor needs its code location's asset graph"
    repository = context.repository_def
    graph = repository.asset_graph
    targets: dict[dg.AssetKey, Target] = reask_targets(graph)
    work = [
        judge(w, settings, instance, moment) for w in read_failed_work(instance, targets, settings, moment)
    ]
    for item in work:
        if item.state is State.GIVEN_UP:
            give_up(instance, item, context.log)
    due = [w for w in work if w.state is State.DUE]
    requests: list[dg.RunRequest] = []
    deferred: list[str] = []
    budget: BudgetView | None = None
    jobs = steam_job_assets(graph)
    for batch in batches(due):
        if len(requests) >= settings.max_requests_per_tick:
            break
        first = batch[0]
        if first.job in jobs:
            calls = expected_calls(instance, first.assets)
            if budget is None:
                schedules = repository.schedule_defs
                budget = budget_view(steam, instance, schedules, jobs, settings.budget_reserve_pct, moment)
            if not budget.fits(calls):
                deferred.append(f"{first.job} {first.partition} ({calls} calls)")
                continue
            budget = budget.spend(calls)
        request = request_for(batch, graph)
        requests.append(request)
        context.log.info(f"{request.run_key}: {first.reason}, {len(batch)} partition(s)")
    if deferred:
        assert budget is not None
        context.log.warning(
            f"deferred for the Steam budget ({budget.remaining} calls left today, {budget.reserve} kept for "
            f"the scheduled polls and the reserve): {', '.join(deferred)}"
        )
    counts = Counter(w.state.value for w in work)
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no failed partition"
    if requests:
        return dg.SensorResult(run_requests=requests)
    return dg.SensorResult(skip_reason=f"nothing to ask again now: {summary}")


def build_reask_sensor(settings: ReaskSettings) -> dg.SensorDefinition:
    """The sensor, ticking every `STEAM_REASK_INTERVAL_S`."""

    @dg.sensor(
        name=SENSOR_NAME,
        jobs=[*STEAM_JOB_DEFS, lake_refresh_job],
        minimum_interval_seconds=settings.interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Asks failed partitions of news, apps, player activity and the warehouse, marts "
        "and search again with exponential back-off, within the Steam budget; gives up (tagged, "
        "alerted) after STEAM_REASK_MAX_TRIES.",
    )
    def reask_failed_work_sensor(
        context: dg.SensorEvaluationContext, steam: SteamApiResource
    ) -> dg.SensorResult:
        return evaluate(context, steam, settings)

    return reask_failed_work_sensor
