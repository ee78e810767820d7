"""How a `dim_app` run rebuilds the app dimension: from its first day on, or from all app bronze.

A daily run rebuilds the dimension from the run's first day on (`streaming.warehouse.dim_app_since`):
it reads the dimension it wrote before, the app bronze days from that day on and, to know which of
their events were observed before, the catalogue ids record kept with the dimension and the event ids
of the few older days a re-run ingest partition points at (`details_lookback_day`). A day's refresh
then costs the same on a year of history as on a week. The result equals a rebuild from all bronze
as long as the days before the run's first day have not changed since the stored dimension was
built. The automation keeps that true: a landing that touches an older day (a late event, an ingest
backfill) materialises that day's bronze partition, and the dimension's run for that day then
rebuilds from it.

A run rebuilds from all app bronze when there is no usable stored dimension (the first build; a
write that did not finish, which leaves no `_SUCCESS` in the table or its catalogue ids record;
files whose schema is not the contract's, after a contract change) or when asked to
(`DimAppConfig.full_rebuild`, e.g. after a repair of old bronze outside the platform).

The catalogue ids record is a table beside the dimension (`dim_app_catalogue_ids`; Spark reads no
folder whose name starts with `_`, so it cannot live inside the table's). A run deletes the record
first, then replaces the table, then writes the record: a write that dies on the way leaves no
finished record, and the next run rebuilds from all bronze.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from steam_platform.assets.warehouse.facts import read_bronze
from steam_platform.assets.warehouse.tables import DIM_APP
from steam_platform.core import sources
from steam_platform.core.spark_schemas import spark_schema
from streaming import warehouse
from streaming.envelope_schema import BRONZE_SCHEMA
from streaming.hadoop_fs import delete, exists
from streaming.lake_paths import bronze_path
from streaming.quality import schema_matches
from streaming.tables_io import conform, read_days_between, read_days_from, write_whole

#: The marker a finished Spark write leaves; an overwrite that died half-way leaves none.
SUCCESS_MARKER = "_SUCCESS"
#: The catalogue ids record's folder: the table's, with this suffix.
CATALOGUE_IDS_SUFFIX = "_catalogue_ids"


@dataclass(frozen=True)
class DimAppBuild:
    """The dimension's rows and catalogue ids record to write, and the apps it must then hold."""

    rows: DataFrame
    catalogue_ids: DataFrame
    #: `appid` of every app the written dimension must have a current version of.
    apps: DataFrame
    #: The first day rebuilt; None when rebuilt from all app bronze.
    since: date | None
    #: Why the run rebuilt the way it did (run metadata).
    reason: str
    #: Older bronze days read for their event ids (a re-run ingest partition's); 0 usually.
    lookback_days: int = 0

    @property
    def scope(self) -> str:
        """`all bronze` or `from dt=<day>` (run metadata, logs)."""
        return "all bronze" if self.since is None else f"from dt={self.since}"

    def write(self, spark: SparkSession, lake_root: str) -> int:
        """Replace the table, then its catalogue ids record; returns the table's rows. The old record
        goes first: a write that dies on the way leaves no record, and the next run rebuilds all."""
        path = DIM_APP.path(lake_root)
        delete(spark, catalogue_ids_path(path))
        written = write_whole(self.rows, path)
        self.catalogue_ids.write.mode("overwrite").parquet(catalogue_ids_path(path))
        return written


def catalogue_ids_path(table_path: str) -> str:
    """Where the catalogue ids record of the table at `table_path` is."""
    return f"{table_path.rstrip('/')}{CATALOGUE_IDS_SUFFIX}"


def plan_dim_app(spark: SparkSession, lake_root: str, first_day: date, *, full_rebuild: bool) -> DimAppBuild:
    """The rebuild of the app dimension for a run whose partitions start at `first_day`."""
    path = DIM_APP.path(lake_root)
    reason = "asked for (full_rebuild)" if full_rebuild else _unusable(spark, path)
    if reason is not None:
        return _from_all_bronze(spark, lake_root, reason)
    return _since(spark, lake_root, first_day)


def _unusable(spark: SparkSession, path: str) -> str | None:
    """Why the stored dimension cannot seed a rebuild (None when it can)."""
    for folder in (path, catalogue_ids_path(path)):
        if not exists(spark, f"{folder.rstrip('/')}/{SUCCESS_MARKER}"):
            return "no finished dimension is stored (first build, or a write that did not finish)"
    stored = spark.read.parquet(path).schema
    matches = schema_matches(stored, spark_schema(DIM_APP), DIM_APP.name)
    return None if matches.passed else f"the stored files do not match the contract ({matches.message})"


def _from_all_bronze(spark: SparkSession, lake_root: str, reason: str) -> DimAppBuild:
    bronze = read_bronze(spark, lake_root, sources.APPS.topic)
    rows = conform(warehouse.dim_app(bronze), spark_schema(DIM_APP))
    ids = warehouse.catalogue_first_observations(bronze)
    return DimAppBuild(rows, ids, _app_ids(bronze), None, f"rebuilt from all app bronze: {reason}")


def _since(spark: SparkSession, lake_root: str, first_day: date) -> DimAppBuild:
    schema = spark_schema(DIM_APP)
    table = DIM_APP.path(lake_root)
    # Held apart from the stored files, which the write replaces: Spark refuses to overwrite a
    # path its plan reads. (A write that dies half-way leaves no marker: the next run rebuilds all.)
    previous = spark.read.schema(schema).parquet(table).localCheckpoint()
    previous_ids = (
        spark.read.schema(warehouse.CATALOGUE_IDS_DDL).parquet(catalogue_ids_path(table)).localCheckpoint()
    )
    path = bronze_path(lake_root, sources.APPS.topic)
    since_bronze = read_days_from(spark, path, BRONZE_SCHEMA, first_day)
    lookback = warehouse.details_lookback_day(since_bronze, first_day)
    details_before = read_days_between(spark, path, BRONZE_SCHEMA, lookback or first_day, first_day)
    since = datetime.combine(first_day, time.min, UTC)
    earlier = warehouse.earlier_event_ids(previous_ids, since, details_before)
    rows = conform(warehouse.dim_app_since(previous, since, since_bronze, earlier), schema)
    ids = warehouse.catalogue_ids_since(previous_ids, since, since_bronze)
    apps = previous.select("appid").unionByName(_app_ids(since_bronze))  # the check deduplicates
    looked_back = (first_day - lookback).days if lookback is not None and lookback != date.min else 0
    reason = "the stored dimension seeds the days before"
    if lookback == date.min:
        reason += "; a store details event without a partition day: every older day's ids read"
    return DimAppBuild(rows, ids, apps, first_day, reason, looked_back)


def _app_ids(bronze: DataFrame) -> DataFrame:
    """Distinct `appid`s of app events (events without one are not apps)."""
    appid = F.get_json_object("payload", "$.appid").cast("long").alias("appid")
    return bronze.select(appid).where(F.col("appid").isNotNull()).distinct()
