"""Nightly compaction of bronze's closed days, so a year of polls stays a few files per day.

`bronze_compaction_job` runs every night (`bronze_compaction_nightly`) and rewrites each topic's
closed bronze days, those before yesterday, that still hold more than one landing folder
(`streaming/compaction.py`). A day catches up by itself: a day missed by a failed night, or given
late events by a landing after an outage, is compacted by the next night. For each day it holds
the topic checkpoint's lease, as a landing does, so the two never write bronze at once; a landing
that finds it held fails at once and is retried. The bronze assets get an observation with the
files before and after, which the UI shows beside their materializations.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import dagster as dg
from dagster_pyspark import PySparkResource
from pyspark.sql import SparkSession

from steam_platform.assets.lake.bronze import lease_timing
from steam_platform.core.run_limits import lake_run_tags
from steam_platform.core.sources import SOURCES
from steam_platform.core.spark_steps import POOL_SPARK, SPARK_RETRY, session
from steam_platform.resources.s3 import S3Resource
from streaming.checkpoint_lease import acquire, writer_identity
from streaming.compaction import DayCompaction, compact_day, folders_to_compact
from streaming.lake_paths import bronze_path, checkpoint_path
from streaming.lease_stores import lease_store_for
from streaming.tables_io import stored_days

#: Days before this many days ago are closed: no poll observes them any more (yesterday may still
#: receive a poll that ran across midnight).
CLOSED_AFTER_DAYS = 2
#: How long to wait for a landing to release the checkpoint's lease before giving the night up.
LEASE_WAIT_S = 300.0


def closed_days(stored: list[date], today: date) -> list[date]:
    """The stored days compaction may rewrite: those before `today - CLOSED_AFTER_DAYS + 1`."""
    return [day for day in stored if day <= today - timedelta(days=CLOSED_AFTER_DAYS)]


def compact_source(
    spark: SparkSession,
    lake_root: str,
    topic: str,
    today: date,
    writer: str,
    log: Callable[[str], None],
    *,
    lease_wait_s: float = LEASE_WAIT_S,
) -> list[DayCompaction]:
    """Compact `topic`'s closed bronze days, each under the checkpoint's lease (held by `writer`)."""
    checkpoint = checkpoint_path(lake_root, topic)
    done = []
    for day in closed_days(stored_days(spark, bronze_path(lake_root, topic)), today):
        if len(folders_to_compact(spark, lake_root, topic, day)) <= 1:
            continue  # already compact: no lease taken (compact_day looks again under the lease)
        lease = acquire(
            lease_store_for(spark, checkpoint),
            checkpoint,
            writer_identity(writer),
            lease_timing(),
            wait_s=lease_wait_s,
        )
        try:
            result = compact_day(spark, lake_root, topic, day)
        finally:
            lease.release()
        if result is not None:
            log(
                f"{topic} {day}: {result.folders_before} folders, {result.files_before} files "
                f"-> {result.files_after} ({result.rows} rows)"
            )
            done.append(result)
    return done


@dg.op(pool=POOL_SPARK, retry_policy=SPARK_RETRY)
def compact_closed_bronze_days(
    context: dg.OpExecutionContext, pyspark: PySparkResource, s3: S3Resource
) -> None:
    """Rewrite every topic's closed bronze days that hold more than one landing folder."""
    spark = session(pyspark)
    lake_root = s3.lake_root()
    today = datetime.now(UTC).date()
    writer = f"bronze compaction run {context.run.run_id}"
    for source in SOURCES:
        done = compact_source(spark, lake_root, source.topic, today, writer, context.log.info)
        context.log_event(
            dg.AssetObservation(
                asset_key=source.bronze_asset,
                metadata={
                    "days_compacted": len(done),
                    "files_before": sum(d.files_before for d in done),
                    "files_after": sum(d.files_after for d in done),
                    "rows_rewritten": sum(d.rows for d in done),
                },
            )
        )


@dg.job(tags=lake_run_tags(), description="Compacts each topic's closed bronze days into few files.")
def bronze_compaction_job() -> None:
    compact_closed_bronze_days()


bronze_compaction_nightly = dg.ScheduleDefinition(
    name="bronze_compaction_nightly",
    job=bronze_compaction_job,
    cron_schedule="40 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Compacts bronze's closed days every night (a missed night is caught up the next).",
)
