"""`--build-layers`: land what history sent through Kafka, then warehouse, marts and search over the
range, with the platform's own assets, recorded in the Dagster instance `make dev` shows.

Runs in data-flow order:

1. the bronze assets of the Kafka-fed history topics (news, apps): they land what history produced;
2. the whole-table warehouse assets (`dim_app`: every run rebuilds it from all of bronze) once,
   over the whole range;
3. every daily Spark asset of the warehouse, then of the marts, in chunks of `RANGE_CHUNK_DAYS`
   consecutive days: one run per chunk, carrying the chunk as the partition range a backfill's
   single run carries (`BackfillPolicy.single_run()`), so a year is twelve runs of a month per
   layer, never one giant Spark job, and the progress shows per run. A layer is finished for the
   whole range before the next starts (a mart day reads the player counts of the day after it);
4. every daily search asset, in one run over the range: no Spark, a day at a time in a bounded
   loop, and when its index is new the first day indexes every lake day at once (in chunks, the
   later chunks would index the same days again).

Re-running the same command resumes: a chunk whose run for this range already succeeded (found by
its tags in the instance) is skipped.

The daily partitions must reach back to the range's first day: `STEAM_PARTITIONS_START` is read
when the code location loads and every process of a deployment must agree on it, so it is the
user's to set (for this command and for `make dev`), never changed here behind their back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg

from steam_platform.assets.lake.refresh_events import RANGE_END_TAG, RANGE_START_TAG
from steam_platform.core import sources
from steam_platform.core.constants import GROUP_MARTS, GROUP_SEARCH, GROUP_WAREHOUSE
from steam_platform.core.settings import ScheduleSettings
from steam_platform.core.spark_steps import RANGE_CHUNK_DAYS, WHOLE_TABLE, day_chunks

#: Step-level INFO logs on the console (DEBUG lists every engine event); the UI keeps everything.
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
HISTORY_RUN_TAG = "steam_devstack/history"
#: The kind of the daily assets that build partitions with Spark (the ones run a chunk at a time).
SPARK_KIND = "spark"
#: The stage and days of one run (`warehouse 2026-01-01..2026-01-31`): what a resumed build skips.
HISTORY_CHUNK_TAG = "steam_devstack/history_chunk"


class PartitionsTooLate(ValueError):
    """The deployment's daily partitions start after the history range does."""


@dataclass(frozen=True)
class LayerRun:
    """One run of `--build-layers`: what it materialised, whether it succeeded, how long it took
    (`skipped`: a run of the same range already built it)."""

    label: str
    run_id: str
    success: bool
    seconds: float
    days: int = 0
    skipped: bool = False


@dataclass(frozen=True)
class PlannedRun:
    """One run `--build-layers` will make: its stage, assets and days (none: unpartitioned)."""

    stage: str
    keys: list[dg.AssetKey]
    days: list[date]
    index: int = 1
    of: int = 1

    @property
    def label(self) -> str:
        """`warehouse 2026-01-01..2026-01-31 (1/12)`, for the progress and the run's tag."""
        if not self.days:
            return self.stage
        span = self.days[0].isoformat() if len(self.days) == 1 else f"{self.days[0]}..{self.days[-1]}"
        return f"{self.stage} {span}" + (f" ({self.index}/{self.of})" if self.of > 1 else "")


def require_partitions_from(first_day: date) -> None:
    """Raise `PartitionsTooLate` unless the daily partitions begin on or before `first_day`."""
    start = ScheduleSettings.load().partitions_start
    if start > first_day:
        raise PartitionsTooLate(
            f"the daily partitions start on {start}, after the history's first day {first_day}: run this "
            f"command (and `make dev`) with STEAM_PARTITIONS_START={first_day.isoformat()} so every layer "
            "has partitions for the whole range"
        )


def _daily_assets(defs: dg.Definitions) -> dict[str, tuple[list[dg.AssetKey], list[dg.AssetKey]]]:
    """Per layer, its daily assets: (Spark builds of day partitions, run a chunk at a time; the
    rest, run once over the range: whole tables any run rebuilds, and the search sync, which goes
    day by day in a bounded loop and whose first day indexes every lake day when the index is new)."""
    daily: dict[str, tuple[list[dg.AssetKey], list[dg.AssetKey]]] = {
        group: ([], []) for group in (GROUP_WAREHOUSE, GROUP_MARTS, GROUP_SEARCH)
    }
    for spec in defs.resolve_all_asset_specs():
        if spec.group_name in daily and isinstance(spec.partitions_def, dg.DailyPartitionsDefinition):
            chunked, once = daily[spec.group_name]
            per_day = SPARK_KIND in spec.kinds and spec.metadata.get("partitioned_by") != WHOLE_TABLE
            (chunked if per_day else once).append(spec.key)
    return {group: (sorted(chunked), sorted(once)) for group, (chunked, once) in daily.items()}


def plan_runs(
    defs: dg.Definitions, first: date, last: date, chunk_days: int = RANGE_CHUNK_DAYS
) -> list[PlannedRun]:
    """The runs that build `first`..`last`, in order (see the module docstring)."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    bronze = [dg.AssetKey(s.bronze_asset) for s in (sources.NEWS, sources.APPS)]
    runs = [PlannedRun("bronze (news, apps from Kafka)", bronze, [])]
    for group, (chunked, once) in _daily_assets(defs).items():
        if once:
            runs.append(PlannedRun(f"{group} (whole tables)" if chunked else group, once, days))
        if chunked:
            chunks = day_chunks(days, chunk_days)
            runs += [PlannedRun(group, chunked, chunk, n, len(chunks)) for n, chunk in enumerate(chunks, 1)]
    return runs


def _already_built(instance: dg.DagsterInstance, tags: dict[str, str]) -> bool:
    done = dg.RunsFilter(tags=tags, statuses=[dg.DagsterRunStatus.SUCCESS])
    return instance.get_runs_count(filters=done) > 0


def build_layers(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    first: date,
    last: date,
    on_run: Callable[[LayerRun], None] | None = None,
    chunk_days: int = RANGE_CHUNK_DAYS,
) -> list[LayerRun]:
    """Make the planned runs for `first`..`last`, skipping those this range already made, stopping
    at the first failed run."""
    require_partitions_from(first)
    done: list[LayerRun] = []
    for planned in plan_runs(defs, first, last, chunk_days):
        tags = {HISTORY_RUN_TAG: f"{first.isoformat()}..{last.isoformat()}", HISTORY_CHUNK_TAG: planned.label}
        if planned.days and _already_built(instance, tags):
            run = LayerRun(planned.label, "", True, 0.0, len(planned.days), skipped=True)
        else:
            run = _execute(defs, instance, planned, tags)
        done.append(run)
        if on_run is not None:
            on_run(run)
        if not run.success:
            break
    return done


def _execute(
    defs: dg.Definitions, instance: dg.DagsterInstance, planned: PlannedRun, tags: dict[str, str]
) -> LayerRun:
    job = defs.resolve_implicit_job_def_def_for_assets(planned.keys)
    if job is None:
        raise ValueError(f"no job covers {planned.label}")
    partition_key = None
    if len(planned.days) == 1:
        partition_key = planned.days[0].isoformat()
    elif planned.days:
        tags = tags | {
            RANGE_START_TAG: planned.days[0].isoformat(),
            RANGE_END_TAG: planned.days[-1].isoformat(),
        }
    started = time.monotonic()
    result = job.execute_in_process(
        instance=instance,
        partition_key=partition_key,
        asset_selection=planned.keys,
        raise_on_error=False,
        run_config=QUIET_LOGS,
        tags=tags,
    )
    seconds = round(time.monotonic() - started, 1)
    return LayerRun(planned.label, result.run_id, result.success, seconds, len(planned.days))
