"""The warehouse's quality rules applied to one written partition (run by the assets, and by tests).

For a fact table and day: one row per event_id, the schema of the contract, no negative counts,
and reconciliation with bronze (silver rows = distinct events bronze holds for that day). A range
of days is judged day by day in a fixed number of Spark jobs (not a few per day). Which fact
tables there are, and how each is built, is `facts.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from steam_platform.assets.warehouse.facts import FactSpec
from steam_platform.assets.warehouse.tables import DIM_APP
from steam_platform.core.contracts import Table
from steam_platform.core.spark_schemas import written_schema
from streaming.hadoop_fs import exists, parquet_stats
from streaming.quality import Outcome, day_rules, no_duplicate_keys, schema_matches, silver_reconciles
from streaming.tables_io import day_folder, read_days, read_table, stored_days
from streaming.warehouse import FACT_DAY

CHECK_UNIQUE = "no_duplicate_event_id"
CHECK_SCHEMA = "schema_matches_contract"
CHECK_RECONCILE = "reconciles_with_bronze"
CHECK_NON_NEGATIVE = "no_negative_values"
CHECK_ONE_CURRENT = "one_current_version_per_app"


def _folders_with_files(spark: SparkSession, table: Table, lake_root: str, days: Sequence[date]) -> list[str]:
    """The partition folders to hold to the contract: those of `days` that have data files, else the
    newest stored day's (a quiet day's build still checks the table's latest files)."""
    path = table.path(lake_root)
    stored = stored_days(spark, path)
    written = set(days)
    wanted = [day for day in stored if day in written] or stored[-1:]
    folders = [day_folder(path, day) for day in wanted]
    return [folder for folder in folders if parquet_stats(spark, folder).files]


def _written(
    spark: SparkSession, table: Table, lake_root: str, days: Sequence[date] | None
) -> DataFrame | None:
    path = table.path(lake_root)
    if not exists(spark, path):
        return None
    if table.partition_column is None or days is None:
        return spark.read.parquet(path) if parquet_stats(spark, path).files else None
    folders = _folders_with_files(spark, table, lake_root, days)
    return spark.read.option("basePath", path).parquet(*folders) if folders else None


def schema_outcome(
    spark: SparkSession, table: Table, lake_root: str, days: Sequence[date] | None = None
) -> Outcome:
    """The table's files have the contract's columns and types (partition column last).

    For a partitioned table and the `days` a build wrote, the files of those days are checked (or,
    when it wrote none, the newest day's): every partition was checked by the build that wrote it,
    and the check costs the same on a year of history as on a day. `days=None` checks the whole
    table (listing every file).

    A table without data files yet (a fresh deployment, a quiet day with no news) passes: there is
    nothing to compare, and emptiness is normal data. Whether rows are missing is the concern of
    the reconciliation checks; any file that is written is held to the contract.
    """
    written = _written(spark, table, lake_root, days)
    if written is None:
        return Outcome(
            True,
            f"{table.name}: no rows yet: nothing to compare (no data files at {table.path(lake_root)})",
            {"data_files": 0},
        )
    return schema_matches(written.schema, written_schema(table), table.name)


def fact_outcomes(spark: SparkSession, spec: FactSpec, lake_root: str, day: date) -> dict[str, Outcome]:
    """Every rule of a fact table for partition `day`, by check name."""
    return fact_outcomes_of_days(spark, spec, lake_root, [day])[day]


def fact_outcomes_of_days(
    spark: SparkSession, spec: FactSpec, lake_root: str, days: Sequence[date]
) -> dict[date, dict[str, Outcome]]:
    """Every rule of a fact table for each of partitions `days`, by day and check name.

    The schema is checked on the files of `days` together (one build wrote them, see
    `schema_outcome`); every other rule per day, as for that day alone.
    """
    table = spec.table
    silver = read_days(spark, table.path(lake_root), written_schema(table), days)
    rules = day_rules(silver, table.name, days, spec.non_negative)
    selected = spec.selection(spec.bronze_of_days(spark, lake_root, days), days)
    bronze_events = {
        r[FACT_DAY]: int(r["n"])
        for r in selected.select(FACT_DAY, "event_id")
        .distinct()
        .groupBy(FACT_DAY)
        .count()
        .withColumnRenamed("count", "n")
        .collect()
    }
    schema = schema_outcome(spark, table, lake_root, days)
    return {
        day: {
            CHECK_UNIQUE: rules.unique[day],
            CHECK_SCHEMA: schema,
            CHECK_RECONCILE: silver_reconciles(bronze_events.get(day, 0), rules.rows[day], table.name, day),
            CHECK_NON_NEGATIVE: rules.non_negative[day],
        }
        for day in days
    }


def dim_app_outcomes(spark: SparkSession, lake_root: str, apps: DataFrame) -> dict[str, Outcome]:
    """dim_app: contract schema; exactly one current version per app, for exactly the apps `apps`
    names (those of app bronze: all of it, or the stored dimension's and the rebuilt days')."""
    dim = read_table(spark, DIM_APP.path(lake_root), written_schema(DIM_APP))
    current = dim.where("is_current").groupBy("appid").agg(F.count("*").alias("versions"))
    expected = apps.select("appid").distinct().withColumn("expected", F.lit(True))
    # One Spark job for every count: each app, expected or current, with its current versions.
    row = (
        expected.join(current, "appid", "full_outer")
        .agg(
            F.count("expected").alias("seen"),
            F.coalesce(F.sum("versions"), F.lit(0)).alias("current"),
            F.count(F.when(F.col("expected").isNotNull() & F.col("versions").isNull(), 1)).alias("missing"),
            F.count(F.when(F.col("expected").isNull(), 1)).alias("unexpected"),
        )
        .first()
    )
    seen, n_current, missing, unexpected = (
        int(row[k]) if row else 0 for k in ("seen", "current", "missing", "unexpected")
    )
    meta = {"apps_in_bronze": seen, "current_versions": n_current, "apps_without_current": missing}
    covered = Outcome(
        n_current == seen and missing == 0 and unexpected == 0,
        f"dim_app: {n_current} current versions for {seen} apps seen in bronze "
        f"({missing} without one, {unexpected} not seen in bronze)",
        meta,
    )
    one_current = no_duplicate_keys(dim.where("is_current"), "dim_app (current versions)", key="appid")
    passed = covered.passed and one_current.passed
    return {
        CHECK_SCHEMA: schema_outcome(spark, DIM_APP, lake_root),
        CHECK_ONE_CURRENT: Outcome(passed, f"{covered.message}; {one_current.message}", meta),
    }
