"""Which warehouse days a bronze landing changed, so the layers after it refresh exactly those.

A landing (one run of the bronze job) writes micro-batches; the silver partitions it affects are
the observation days (`dt`) of the rows it landed, except for news: a post belongs to the day it
was published, which can be days before it was observed (a backfill of last month's news lands
today). Which topics count publication days is the caller's to say (`by_publication`, from the
platform's source registry: `streaming/` does not import the platform). The Dagster sensor that
follows bronze reads this list from the landing's metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from streaming.envelope_schema import BRONZE_SCHEMA
from streaming.lake_paths import bronze_path
from streaming.tables_io import batch_folders, day_folder, read_folders


def _silver_day(by_publication: bool) -> Column:
    if by_publication:
        return F.to_date(F.timestamp_seconds(F.get_json_object("payload", "$.date").cast("long")))
    return F.col("dt")


def landing_folders(
    spark: SparkSession, path: str, days: Sequence[str], batch_ids: Sequence[int]
) -> list[str]:
    """The `dt=<day>/batch_id=<id>` folders of the bronze dataset at `path` that a landing wrote: its
    `batch_ids` under the `days` it reports (one listing per day, never of the whole dataset)."""
    return [
        folder
        for day in days
        for folder in batch_folders(spark, day_folder(path, date.fromisoformat(day)), batch_ids)
    ]


def landed_days(
    spark: SparkSession,
    lake_root: str,
    topic: str,
    batch_ids: Sequence[int],
    bronze_days: Sequence[str],
    *,
    by_publication: bool,
) -> list[date]:
    """The silver days touched by the bronze rows of `batch_ids` (sorted; empty when none landed):
    the days their items were published (payload `date`) when `by_publication`, else the days they
    were observed. Only the folders the landing wrote are read (`bronze_days`: the `dt` partitions
    it reports), so the cost follows the landing, not the lake's history."""
    if not batch_ids:
        return []
    path = bronze_path(lake_root, topic)
    landed = read_folders(spark, path, BRONZE_SCHEMA, landing_folders(spark, path, bronze_days, batch_ids))
    days = landed.select(_silver_day(by_publication).alias("day")).where(F.col("day").isNotNull()).distinct()
    return sorted(row.day for row in days.collect())
