"""Compaction of bronze: a closed day's many small landing folders rewritten as a few files.

Every landing writes its micro-batch into `dt=<day>/batch_id=<n>/`: a day of 10-minute polls is
144 folders per topic, a year of them tens of thousands of objects that every rebuild of an old
day, and every news range read, opens one by one. Once a day is closed (no poll observes it any
more), its folders are rewritten as `ceil(bytes / TARGET_FILE_BYTES)` files in one new folder.

Safe against concurrent writers: the caller holds the topic checkpoint's lease, so no landing
writes bronze meanwhile (a landing that tries fails at once and is retried). Safe against
concurrent readers: the new folder is complete (Spark's job commit) and checked (same rows) before
any old folder is deleted. A reader that lists in between sees every row twice, which every
bronze reader tolerates (silver keeps one row per `event_id`, reconciliation counts distinct
events, the app dimension starts a version only on a change); a reader that listed before the
deletion and opens a deleted file fails and is retried. Nothing is ever absent from a listing.

Compacted folders take fresh negative batch ids from `COMPACTED_BATCH_BASE` down: Spark's own
batch ids count up from 0 and history (`steam-platform history`) uses -1, so a compacted folder
can never be overwritten by a landing's replay. Only landing folders (ids >= 0) and earlier
compactions are rewritten: any other folder (history's `batch_id=-1`, one file per day already,
checked against its manifest when history resumes) is left as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from streaming.envelope_schema import BRONZE_SCHEMA
from streaming.hadoop_fs import delete, parquet_stats, partition_values
from streaming.lake_paths import bronze_path
from streaming.tables_io import day_folder, read_folders

#: Compacted folders get batch ids from here down (Spark's are >= 0, history's is -1).
COMPACTED_BATCH_BASE = -1_000_000
#: Target size of a compacted file (Parquet readers split large files; many tiny ones are the cost).
TARGET_FILE_BYTES = 128 * 1024 * 1024


class CompactionMismatch(RuntimeError):
    """The compacted folder does not hold the rows it replaces: nothing was deleted."""


@dataclass(frozen=True)
class DayCompaction:
    """What compacting one bronze day did."""

    topic: str
    day: date
    folders_before: int
    files_before: int
    files_after: int
    rows: int
    batch_id: int


def compactable(ids: list[int]) -> list[int]:
    """The batch folders compaction rewrites: landings' (>= 0) and earlier compactions' (<= base)."""
    return [i for i in ids if i >= 0 or i <= COMPACTED_BATCH_BASE]


def compacted_batch_id(existing: list[int]) -> int:
    """A batch id no folder of the day has, below every compacted one so far."""
    return min([COMPACTED_BATCH_BASE + 1, *existing]) - 1


def folders_to_compact(spark: SparkSession, lake_root: str, topic: str, day: date) -> list[int]:
    """Batch ids of `topic`'s bronze day `day` compaction would rewrite (one listing of the day)."""
    folder = day_folder(bronze_path(lake_root, topic), day)
    return compactable(sorted(int(i) for i in partition_values(spark, folder, "batch_id")))


def compact_day(
    spark: SparkSession,
    lake_root: str,
    topic: str,
    day: date,
    *,
    before_delete: Callable[[], None] = lambda: None,
) -> DayCompaction | None:
    """Rewrite `topic`'s bronze day `day` as one folder of few files; None when it has one folder
    or none. The caller must hold the topic checkpoint's lease. `before_delete` runs once the new
    folder is written and checked, before the old ones go (tests use it to read mid-compaction)."""
    bronze = bronze_path(lake_root, topic)
    folder = day_folder(bronze, day)
    ids = folders_to_compact(spark, lake_root, topic, day)
    if len(ids) <= 1:
        return None
    old = [f"{folder}/batch_id={i}" for i in ids]
    before = parquet_stats(spark, f"{folder}/batch_id={{{','.join(map(str, ids))}}}")  # what is rewritten
    rows = read_folders(spark, bronze, BRONZE_SCHEMA, old).persist()
    try:
        count = rows.count()
        new_id = compacted_batch_id(ids)  # the ids left out lie between the base and 0
        files = max(1, math.ceil(before.bytes / TARGET_FILE_BYTES))
        rows.withColumn("batch_id", F.lit(new_id)).coalesce(files).write.mode("append").partitionBy(
            "dt", "batch_id"
        ).parquet(bronze)
    finally:
        rows.unpersist()
    new_folder = f"{folder}/batch_id={new_id}"
    written = read_folders(spark, bronze, BRONZE_SCHEMA, [new_folder]).count()
    if written != count:
        delete(spark, new_folder)
        raise CompactionMismatch(f"{topic} {day}: compacted {written} rows of {count}; old folders kept")
    before_delete()
    for path in old:
        delete(spark, path)
    after = parquet_stats(spark, new_folder)
    return DayCompaction(topic, day, len(ids), before.files, after.files, count, new_id)
