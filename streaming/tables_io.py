"""Reading day partitions and replacing exactly the written ones (dynamic partition overwrite).

A read of some days opens only those days' folders: Spark's file index lists every file under the
paths it is given before it prunes partitions, so handing it the table's root and a `dt` filter
costs a listing of the whole history on every read (a year of small bronze files is tens of
thousands of objects on S3). Reads of `days` hand it the day folders instead; the cost of a day's
build then follows that day, not the age of the lake.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from streaming.hadoop_fs import delete, exists, partition_values


def conform(frame: DataFrame, schema: StructType) -> DataFrame:
    """Exactly the schema's columns, in its order, cast to its types (the table contract)."""
    return frame.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def read_table(spark: SparkSession, path: str, schema: StructType) -> DataFrame:
    """The whole Parquet dataset at `path` with `schema` (empty when nothing was written yet)."""
    if not exists(spark, path):
        return spark.createDataFrame([], schema)
    return spark.read.schema(schema).option("basePath", path).parquet(path)


def day_folder(path: str, day: date) -> str:
    """The folder of partition `day` of the dataset at `path`."""
    return f"{path.rstrip('/')}/dt={day.isoformat()}"


def stored_days(spark: SparkSession, path: str) -> list[date]:
    """The `dt` partitions the dataset at `path` holds (one listing of its top folder; sorted)."""
    return sorted(date.fromisoformat(value) for value in partition_values(spark, path, "dt"))


def read_folders(spark: SparkSession, path: str, schema: StructType, folders: Sequence[str]) -> DataFrame:
    """The rows under `folders` (partition folders of the dataset at `path`, which must exist), with
    the partition columns they name; empty when `folders` is."""
    if not folders:
        return spark.createDataFrame([], schema)
    return spark.read.schema(schema).option("basePath", path).parquet(*folders)


def batch_folders(spark: SparkSession, path: str, batch_ids: Iterable[int]) -> list[str]:
    """The `batch_id=<id>` folders directly under `path` among `batch_ids` (one listing of `path`)."""
    wanted = {str(i) for i in batch_ids}
    present = partition_values(spark, path, "batch_id")
    return [f"{path.rstrip('/')}/batch_id={i}" for i in present if i in wanted]


def read_days(spark: SparkSession, path: str, schema: StructType, days: Sequence[date]) -> DataFrame:
    """The `dt` partitions `days` of the dataset at `path` (missing ones contribute no rows).

    Only the folders of `days` are listed (see the module docstring)."""
    wanted = set(days)
    present = [day for day in stored_days(spark, path) if day in wanted]
    return _read_stored_days(spark, path, schema, present).where(F.col("dt").isin(list(days)))


def read_days_from(spark: SparkSession, path: str, schema: StructType, first: date) -> DataFrame:
    """The `dt` partitions from `first` on (what can hold news published on `first`)."""
    return _read_stored_days(spark, path, schema, [day for day in stored_days(spark, path) if day >= first])


def read_days_between(
    spark: SparkSession, path: str, schema: StructType, first: date, end: date
) -> DataFrame:
    """The `dt` partitions from `first` up to, not including, `end` (empty when `first >= end`)."""
    days = [day for day in stored_days(spark, path) if first <= day < end]
    return _read_stored_days(spark, path, schema, days)


def _read_stored_days(spark: SparkSession, path: str, schema: StructType, days: Sequence[date]) -> DataFrame:
    """The rows of `days`, partitions the dataset at `path` holds."""
    return read_folders(spark, path, schema, [day_folder(path, day) for day in days])


def write_days(spark: SparkSession, frame: DataFrame, path: str, days: Sequence[date]) -> int:
    """Replace partitions `days` at `path` with `frame`'s rows; returns rows written.

    Dynamic overwrite replaces only the partitions present in `frame`; a day that now has no rows
    is deleted explicitly, so a re-run always leaves exactly what this run computed.
    """
    frame = frame.persist()
    try:
        counts = {r.dt: int(r.n) for r in frame.groupBy("dt").agg(F.count("*").alias("n")).collect()}
        stray = set(counts) - set(days)
        if stray:
            raise ValueError(
                f"rows for days {sorted(stray)} outside the partitions {sorted(days)} being written"
            )
        for day in days:
            if day not in counts:
                delete(spark, f"{path.rstrip('/')}/dt={day.isoformat()}")
        if counts:
            frame.write.mode("overwrite").option("partitionOverwriteMode", "dynamic").partitionBy(
                "dt"
            ).parquet(path)
        return sum(counts.values())
    finally:
        frame.unpersist()


def write_whole(frame: DataFrame, path: str) -> int:
    """Replace the unpartitioned table at `path` with `frame`; returns rows written."""
    frame = frame.persist()
    try:
        rows = frame.count()
        frame.write.mode("overwrite").parquet(path)
        return rows
    finally:
        frame.unpersist()
