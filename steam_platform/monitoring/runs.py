"""Failed runs: for each job, whether its latest finished run failed.

The alert a person gets is "job X's latest run failed"; it resolves when a later run of the same job
succeeds (a retry, the next schedule tick or a person's re-execution), not after a fixed time: a
failure nobody re-ran is still a problem tomorrow. Cancelled runs are left out (a person chose
them). The jobs are the code location's (asset materialisations launched outside a named job run
as `__ASSET_JOB`); jobs without a finished run within the lookback drop out.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster import DagsterInstance
from prometheus_client.core import GaugeMetricFamily

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]


def latest_finished_runs(
    instance: DagsterInstance, jobs: Sequence[str], lookback: timedelta
) -> dict[str, dg.DagsterRun]:
    """Each of `jobs`' newest SUCCESS or FAILURE run updated within `lookback` (one query per job:
    a job that runs every few minutes cannot crowd a daily job out)."""
    since = datetime.now(UTC) - lookback
    latest: dict[str, dg.DagsterRun] = {}
    for job in jobs:
        runs = instance.get_runs(
            filters=dg.RunsFilter(job_name=job, statuses=FINISHED, updated_after=since), limit=1
        )
        if runs:
            latest[job] = runs[0]
    return latest


def run_metrics(
    instance: DagsterInstance, jobs: Sequence[str], lookback: timedelta
) -> Iterator[GaugeMetricFamily]:
    """`steam_job_last_run_failed{dagster_job}` (1: the latest finished run failed) and the run's end time."""
    failed = GaugeMetricFamily(
        "steam_job_last_run_failed",
        "1 when the job's latest finished run failed; 0 once a later run of the job succeeded",
        labels=["dagster_job"],
    )
    ended = GaugeMetricFamily(
        "steam_job_last_run_end_timestamp_seconds",
        "When the job's latest finished run ended (Unix time)",
        labels=["dagster_job"],
    )
    latest = latest_finished_runs(instance, jobs, lookback)
    records = {r.dagster_run.run_id: r for r in _records(instance, [r.run_id for r in latest.values()])}
    for job, run in sorted(latest.items()):
        failed.add_metric([job], float(run.status is dg.DagsterRunStatus.FAILURE))
        record = records.get(run.run_id)
        if record is not None and record.end_time is not None:
            ended.add_metric([job], record.end_time)
    yield failed
    yield ended


def _records(instance: DagsterInstance, run_ids: list[str]) -> list[dg.RunRecord]:
    if not run_ids:
        return []
    return list(instance.get_run_records(filters=dg.RunsFilter(run_ids=run_ids)))
