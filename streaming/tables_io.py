"""Reading day partitions and replacing exactly the written ones (dynamic partition overwrite)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from streaming.hadoop_fs import delete, exists


def conform(frame: DataFrame, schema: StructType) -> DataFrame:
    """Exactly the schema's columns, in its order, cast to its types (the table contract)."""
    return frame.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def read_table(spark: SparkSession, path: str, schema: StructType) -> DataFrame:
    """The whole Parquet dataset at `path` with `schema` (empty when nothing was written yet)."""
    if not exists(spark, path):
        return spark.createDataFrame([], schema)
    return spark.read.schema(schema).option("basePath", path).parquet(path)


def read_days(spark: SparkSession, path: str, schema: StructType, days: Sequence[date]) -> DataFrame:
    """The `dt` partitions `days` of the dataset at `path` (missing ones contribute no rows)."""
    return read_table(spark, path, schema).where(F.col("dt").isin(list(days)))


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
