"""What the lake, warehouse and mart assets share: the Spark pool, freshness, metadata helpers."""

from datetime import date, timedelta
from typing import Any

import dagster as dg
from pyspark.sql import SparkSession

from steam_platform.tables import Table
from streaming.quality import Outcome

#: Spark jobs run one at a time: each step starts a driver JVM on a small machine.
POOL_SPARK = "spark"
#: Spark steps retry once on a crash: bronze resumes from its checkpoint, the rest overwrite.
SPARK_RETRY = dg.RetryPolicy(
    max_retries=1, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
#: Bronze lands several times an hour; two hours without a landing means the bus or Spark is stuck.
BRONZE_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=2), warn_window=timedelta(hours=1)
)
#: Marts of the day in progress are refreshed through the day; 26 hours allows one missed daily run.
MART_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=26), warn_window=timedelta(hours=13)
)


def session(pyspark: Any) -> SparkSession:
    """The run's Spark session from the `pyspark` resource."""
    spark: SparkSession = pyspark.spark_session
    return spark


def partition_day(context: dg.AssetExecutionContext) -> date:
    """The UTC day of a daily partition."""
    return date.fromisoformat(context.partition_key)


def column_schema(table: Table) -> dg.TableSchema:
    """The contract's columns with types and descriptions, for the asset's metadata."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c.name,
                type=c.type,
                description=c.description,
                constraints=dg.TableColumnConstraints(nullable=c.nullable),
            )
            for c in table.columns
        ]
    )


def table_metadata(table: Table) -> dict[str, Any]:
    """Definition-time metadata of a silver/gold asset: column schema and storage layout."""
    return {
        "dagster/column_schema": column_schema(table),
        "table_key": ", ".join(table.key),
        "partitioned_by": table.partition_column or "(whole table)",
    }


def check_result(name: str, outcome: Outcome, asset: str | None = None) -> dg.AssetCheckResult:
    """An ERROR-severity check result carrying the outcome's message and figures."""
    return dg.AssetCheckResult(
        check_name=name,
        asset_key=asset,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=outcome.message,
        metadata={"message": outcome.message, **outcome.metadata},
    )
