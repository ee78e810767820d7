"""What the lake refresh sensor reads from the instance: ingest and bronze materialisations, runs.

Reads page through the event log (`READ_LIMIT` records per asset and tick, resuming where a full
page ended), so a long backfill is taken in over several ticks and nothing is skipped.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from steam_platform.assets.lake.bronze import DAYS_LANDED
from steam_platform.assets.lake.refresh_cursor import LakeCursor
from steam_platform.core.sources import PLAYER_COUNTS, SOURCES

#: Run tags: which kind of lake run (`poll` or `days`), and the request it serves.
LAKE_RUN_TAG = "steam_platform/lake_refresh"
REQUEST_TAG = "steam_platform/lake_request"
#: Dagster's tags for a run over a range of partitions (what a single-run backfill launches).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
#: Run statuses of a run that is queued, starting, running or cancelling.
ACTIVE_STATUSES = [
    s
    for s in dg.DagsterRunStatus
    if s not in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
]

#: The sources' facts as the sensor looks them up: ingest asset -> topic, topic -> bronze asset and
#: silver tables (views of `steam_platform/core/sources.py`).
TOPIC_OF_INGEST = {asset: s.topic for s in SOURCES for asset in s.ingest_assets}
BRONZE_OF_TOPIC = {s.topic: s.bronze_asset for s in SOURCES}
SILVER_OF_TOPIC = {s.topic: frozenset(s.silver_tables) for s in SOURCES}
ALL_SILVER = frozenset(table for s in SOURCES for table in s.silver_tables)

#: Materialisations read per asset and tick; more (a long backfill) are read on the next ticks.
READ_LIMIT = 1000


def _materialisations(instance: dg.DagsterInstance, asset: str, after: int) -> list[dg.EventLogRecord]:
    """Materialisations of `asset` recorded after storage id `after`, oldest first."""
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), after_storage_id=after),
        limit=READ_LIMIT,
        ascending=True,
    )
    return list(result.records)


def _newest_read(
    records: list[dg.EventLogRecord], newest: int, ceiling: int | None
) -> tuple[int, int | None]:
    """The newest storage id read so far and, when `records` filled a page, the id the next tick
    must resume from (so no record of a busier asset is skipped)."""
    if not records:
        return newest, ceiling
    last = records[-1].storage_id
    if len(records) >= READ_LIMIT:
        ceiling = last if ceiling is None else min(ceiling, last)
    return max(newest, last), ceiling


def _metadata_value(record: dg.EventLogRecord, key: str) -> object:
    materialization = record.asset_materialization
    entry = materialization.metadata.get(key) if materialization else None
    return getattr(entry, "value", None)


def read_ingest(instance: dg.DagsterInstance, cursor: LakeCursor) -> tuple[int, int | None]:
    """Mark the topics of new ingest materialisations that produced events; the newest id seen
    and, if a page was full, the id to resume from."""
    newest, ceiling = cursor.after, None
    for asset, topic in TOPIC_OF_INGEST.items():
        records = _materialisations(instance, asset, cursor.after)
        newest, ceiling = _newest_read(records, newest, ceiling)
        for record in records:
            produced = _metadata_value(record, "events_total")
            if produced is None or int(str(produced)) > 0:
                cursor.topics.add(topic)
    return newest, ceiling


def _run_partition(instance: dg.DagsterInstance, run_id: str) -> str | None:
    run = instance.get_run_by_id(run_id)
    return run.tags.get("dagster/partition") if run else None


def read_landings(instance: dg.DagsterInstance, cursor: LakeCursor) -> tuple[int, int | None]:
    """Mark the silver days new bronze landings (materialisation events) changed, except the day
    their own run rebuilt."""
    newest, ceiling = cursor.after, None
    for topic, bronze in BRONZE_OF_TOPIC.items():
        records = _materialisations(instance, bronze, cursor.after)
        newest, ceiling = _newest_read(records, newest, ceiling)
        for record in records:
            covered = _run_partition(instance, record.run_id)
            days = _metadata_value(record, DAYS_LANDED) or []
            assert isinstance(days, list)
            cursor.add_days({day: set(SILVER_OF_TOPIC[topic]) for day in days if day != covered})
    return newest, ceiling


def latest_run(instance: dg.DagsterInstance, request_id: str) -> dg.DagsterRun | None:
    runs = instance.get_runs(dg.RunsFilter(tags={REQUEST_TAG: request_id}), limit=1)
    return runs[0] if runs else None


def lake_run_in_flight(instance: dg.DagsterInstance) -> bool:
    """A lake run is queued, starting, running or cancelling."""
    runs = instance.get_runs(
        dg.RunsFilter(tags={LAKE_RUN_TAG: ["poll", "days"]}, statuses=ACTIVE_STATUSES), limit=1
    )
    return bool(runs)


CONTINUOUS_JOB = "bronze_continuous_job"
CONTINUOUS_OP = "bronze_continuous"
#: The topic `bronze_continuous_job` lands when its run config names none.
DEFAULT_CONTINUOUS_TOPIC = PLAYER_COUNTS.topic


def continuous_topics(instance: dg.DagsterInstance) -> set[str]:
    """Topics a running `bronze_continuous_job` lands: it owns their checkpoint, so lake runs must
    not land them too (one writer per bronze checkpoint)."""
    runs = instance.get_runs(dg.RunsFilter(job_name=CONTINUOUS_JOB, statuses=ACTIVE_STATUSES))
    topics = set()
    for run in runs:
        ops: Any = run.run_config.get("ops", {})
        config = ops.get(CONTINUOUS_OP, {}).get("config", {})
        topics.add(str(config.get("topic", DEFAULT_CONTINUOUS_TOPIC)))
    return topics
