"""Warehouse (silver): typed, deduplicated facts per day and the app dimension, built by Spark.

A daily partition reads the bronze rows of its day and replaces exactly its `dt=` folder (dynamic
partition overwrite), so re-runs and backfills give the same rows. A run may cover a range of days
(a backfill, or the lake sensor rebuilding what a news backfill landed): one Spark session for
all of them, built range-native (the chunk's bronze read once, one plan) a chunk of at most
`RANGE_CHUNK_DAYS` at a time, each day checked on its own. Blocking checks keep the marts
from building on a partition with duplicates, a wrong schema, negative counts or rows that do not
reconcile with bronze.
"""

import dagster as dg
from dagster_pyspark import PySparkResource
from pydantic import Field

from steam_platform.assets.warehouse.app_dimension import plan_dim_app
from steam_platform.assets.warehouse.facts import FACTS, FactSpec
from steam_platform.assets.warehouse.quality import (
    CHECK_NON_NEGATIVE,
    CHECK_ONE_CURRENT,
    CHECK_RECONCILE,
    CHECK_SCHEMA,
    CHECK_UNIQUE,
    dim_app_outcomes,
    fact_outcomes_of_days,
)
from steam_platform.assets.warehouse.tables import DIM_APP
from steam_platform.core import sources
from steam_platform.core.backfill import SINGLE_RUN_BACKFILL
from steam_platform.core.cadence import freshness
from steam_platform.core.constants import GROUP_WAREHOUSE
from steam_platform.core.partitions import daily_partitions
from steam_platform.core.spark_schemas import spark_schema
from steam_platform.core.spark_steps import (
    POOL_SPARK,
    SPARK_RETRY,
    check_result,
    combine,
    day_chunks,
    days_label,
    partition_days,
    session,
    table_metadata,
)
from steam_platform.core.step_priority import step_priority_tags
from steam_platform.resources.s3 import S3Resource
from streaming.quality import Outcome
from streaming.tables_io import conform, write_days

FACT_CHECKS = {
    CHECK_UNIQUE: "One row per event_id in the partition",
    CHECK_SCHEMA: "Written columns and types equal the contract in tables.py",
    CHECK_RECONCILE: "Rows = distinct bronze events of the day (a missing partition fails)",
    CHECK_NON_NEGATIVE: "No negative counts",
}


def _fact_asset(name: str, spec: FactSpec) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        group_name=GROUP_WAREHOUSE,
        partitions_def=daily_partitions,
        deps=[spec.source.bronze_asset],
        kinds={"spark", "parquet", "s3"},
        pool=POOL_SPARK,
        op_tags=step_priority_tags(name),
        retry_policy=SPARK_RETRY,
        backfill_policy=SINGLE_RUN_BACKFILL,
        freshness_policy=freshness(spec.source.cadence),
        metadata=table_metadata(spec.table),
        check_specs=[
            dg.AssetCheckSpec(c, asset=name, blocking=True, description=d) for c, d in FACT_CHECKS.items()
        ],
        description=spec.table.description,
    )
    def _fact(
        context: dg.AssetExecutionContext, pyspark: PySparkResource, s3: S3Resource
    ) -> dg.MaterializeResult:
        spark = session(pyspark)
        days = partition_days(context)
        lake_root = s3.lake_root()
        path = spec.table.path(lake_root)
        written = 0
        per_day: list[dict[str, Outcome]] = []
        for chunk in day_chunks(days):
            bronze = spec.bronze_of_days(spark, lake_root, chunk)
            rows = conform(spec.build_days(bronze, chunk), spark_schema(spec.table))
            written += write_days(spark, rows, path, chunk)
            per_day += fact_outcomes_of_days(spark, spec, lake_root, chunk).values()
            if len(chunk) < len(days):
                context.log.info(f"{name}: {days_label(chunk)} built ({len(per_day)} of {len(days)} days)")
        return dg.MaterializeResult(
            metadata={"dagster/row_count": written, "path": f"{path}/{days_label(days)}"},
            check_results=[check_result(c, combine([o[c] for o in per_day])) for c in FACT_CHECKS],
        )

    return _fact


fact_assets = [_fact_asset(name, spec) for name, spec in FACTS.items()]


class DimAppConfig(dg.Config):
    """How a `dim_app` run rebuilds the dimension."""

    full_rebuild: bool = Field(
        default=False,
        description="Rebuild from all app bronze instead of from the run's first day on (after old "
        "bronze was repaired outside the platform).",
    )


@dg.asset(
    group_name=GROUP_WAREHOUSE,
    partitions_def=daily_partitions,
    deps=[sources.APPS.bronze_asset],
    kinds={"spark", "parquet", "s3"},
    pool=POOL_SPARK,
    retry_policy=SPARK_RETRY,
    backfill_policy=SINGLE_RUN_BACKFILL,
    freshness_policy=freshness(sources.APPS.cadence),
    metadata=table_metadata(DIM_APP),
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_SCHEMA, asset="dim_app", blocking=True, description=FACT_CHECKS[CHECK_SCHEMA]
        ),
        dg.AssetCheckSpec(
            CHECK_ONE_CURRENT,
            asset="dim_app",
            blocking=True,
            description="Exactly one current version per app seen in bronze",
        ),
    ],
)
def dim_app(
    context: dg.AssetExecutionContext, config: DimAppConfig, pyspark: PySparkResource, s3: S3Resource
) -> dg.MaterializeResult:
    """App attributes with history (valid_from/valid_to): the store's view of every app over time.

    The dimension is one whole table. A run rebuilds it from its first partition's day on, seeded
    by the stored dimension for the days before (`app_dimension.py`), so a day's refresh reads
    that day's app bronze, not a year of it; the first build (or `full_rebuild`) reads it all.
    """
    spark = session(pyspark)
    lake_root = s3.lake_root()
    build = plan_dim_app(spark, lake_root, min(partition_days(context)), full_rebuild=config.full_rebuild)
    written = build.write(spark, lake_root)
    context.log.info(f"dim_app: {written} versions, rebuilt {build.scope} ({build.reason})")
    outcomes = dim_app_outcomes(spark, lake_root, build.apps)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "path": DIM_APP.path(lake_root),
            "rebuilt": build.scope,
            "rebuilt_because": build.reason,
            "older_days_read_for_ids": build.lookback_days,
        },
        check_results=[check_result(c, o) for c, o in outcomes.items()],
    )
