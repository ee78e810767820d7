"""`--build-layers`: land what history sent through Kafka, then warehouse, marts and search over the
range, with the platform's own assets, recorded in the Dagster instance `make dev` shows.

Four runs, in data-flow order, each with the partition range a backfill's single run carries (every
daily asset of these layers has `BackfillPolicy.single_run()`: one Spark session, or one search sync
loop, for the whole range):

1. the bronze assets of the Kafka-fed history topics (news, apps): they land what history produced;
2. every daily warehouse asset over the range (player counts read the history files in bronze);
3. every daily mart over the range;
4. every daily search asset over the range.

The daily partitions must reach back to the range's first day: `STEAM_PARTITIONS_START` is read
when the code location loads and every process of a deployment must agree on it, so it is the
user's to set (for this command and for `make dev`), never changed here behind their back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import dagster as dg

from steam_platform.assets.lake.refresh_events import RANGE_END_TAG, RANGE_START_TAG
from steam_platform.core import sources
from steam_platform.core.constants import GROUP_MARTS, GROUP_SEARCH, GROUP_WAREHOUSE
from steam_platform.core.settings import ScheduleSettings

#: Step-level INFO logs on the console (DEBUG lists every engine event); the UI keeps everything.
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
HISTORY_RUN_TAG = "steam_devstack/history"


class PartitionsTooLate(ValueError):
    """The deployment's daily partitions start after the history range does."""


@dataclass(frozen=True)
class LayerRun:
    """One run of `--build-layers`: what it materialised, whether it succeeded, how long it took."""

    label: str
    run_id: str
    success: bool
    seconds: float


def require_partitions_from(first_day: date) -> None:
    """Raise `PartitionsTooLate` unless the daily partitions begin on or before `first_day`."""
    start = ScheduleSettings.load().partitions_start
    if start > first_day:
        raise PartitionsTooLate(
            f"the daily partitions start on {start}, after the history's first day {first_day}: run this "
            f"command (and `make dev`) with STEAM_PARTITIONS_START={first_day.isoformat()} so every layer "
            "has partitions for the whole range"
        )


def _stages(defs: dg.Definitions) -> list[tuple[str, list[dg.AssetKey], bool]]:
    """(label, asset keys, partitioned over the range) in data-flow order."""
    bronze = [dg.AssetKey(s.bronze_asset) for s in (sources.NEWS, sources.APPS)]
    daily: dict[str, list[dg.AssetKey]] = {GROUP_WAREHOUSE: [], GROUP_MARTS: [], GROUP_SEARCH: []}
    for spec in defs.resolve_all_asset_specs():
        if spec.group_name in daily and isinstance(spec.partitions_def, dg.DailyPartitionsDefinition):
            daily[spec.group_name].append(spec.key)
    return [("bronze (news, apps from Kafka)", bronze, False)] + [
        (group, sorted(keys), True) for group, keys in daily.items()
    ]


def build_layers(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    first: date,
    last: date,
    on_run: Callable[[LayerRun], None] | None = None,
) -> list[LayerRun]:
    """Run the four stages for `first`..`last`, stopping at the first failed run."""
    require_partitions_from(first)
    done: list[LayerRun] = []
    for label, keys, ranged in _stages(defs):
        job = defs.resolve_implicit_job_def_def_for_assets(keys)
        if job is None:
            raise ValueError(f"no job covers {label}")
        tags = {HISTORY_RUN_TAG: f"{first.isoformat()}..{last.isoformat()}"}
        partition_key = None
        if ranged and first == last:
            partition_key = first.isoformat()
        elif ranged:
            tags |= {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()}
        started = time.monotonic()
        result = job.execute_in_process(
            instance=instance,
            partition_key=partition_key,
            asset_selection=keys,
            raise_on_error=False,
            run_config=QUIET_LOGS,
            tags=tags,
        )
        run = LayerRun(label, result.run_id, result.success, round(time.monotonic() - started, 1))
        done.append(run)
        if on_run is not None:
            on_run(run)
        if not result.success:
            break
    return done
