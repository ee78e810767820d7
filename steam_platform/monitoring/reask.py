"""Failed partitions being asked again, and those given up: what `reask_failed_work_sensor` sees.

Read with the sensor's own reading (`assets/operations/reask_failures.py`) from Dagster's records,
so the count a person is alerted on is exactly what the sensor stopped asking for, and it drops
when a later run of the partition succeeds (or the failure passes `STEAM_REASK_LOOKBACK_HOURS`).
Every re-askable job is published, at 0 when it has nothing failed, so an alert resolves on a
value, not on a vanished series.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

import dagster as dg
from dagster import DagsterInstance
from prometheus_client.core import GaugeMetricFamily

from steam_platform.assets.operations.reask_failures import State, judge, read_failed_work
from steam_platform.assets.operations.reask_targets import Target
from steam_platform.core.settings import ReaskSettings


def reask_metrics(
    instance: DagsterInstance,
    targets: Mapping[dg.AssetKey, Target],
    settings: ReaskSettings,
    now: datetime | None = None,
) -> Iterator[GaugeMetricFamily]:
    """`steam_reask_given_up_partitions{dagster_job}` and `steam_reask_pending_partitions{dagster_job}`."""
    moment = now or datetime.now(UTC)
    work = [
        judge(w, settings, instance, moment) for w in read_failed_work(instance, targets, settings, moment)
    ]
    given_up = Counter(w.job for w in work if w.state is State.GIVEN_UP)
    pending = Counter(w.job for w in work if w.state is not State.GIVEN_UP)
    given_up_family = GaugeMetricFamily(
        "steam_reask_given_up_partitions",
        "Failed partitions no longer asked again (tries used up, or a snapshot too old) not since rebuilt",
        labels=["dagster_job"],
    )
    pending_family = GaugeMetricFamily(
        "steam_reask_pending_partitions",
        "Failed partitions still being asked again (waiting for their back-off, the budget or a run)",
        labels=["dagster_job"],
    )
    for job in sorted({t.job for t in targets.values()}):
        given_up_family.add_metric([job], given_up[job])
        pending_family.add_metric([job], pending[job])
    yield given_up_family
    yield pending_family
