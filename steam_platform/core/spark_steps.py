"""What the lake, warehouse and mart assets share: the Spark pool, retries, partition days,
metadata and check helpers (their backfill policy: `core/backfill.py`)."""

from collections.abc import Sequence
from datetime import date
from typing import Any

import dagster as dg
from pyspark.sql import SparkSession

from steam_platform.core.contracts import Table
from streaming.quality import Outcome

#: Spark jobs run one at a time: each step starts a driver JVM on a small machine.
POOL_SPARK = "spark"
#: Spark steps retry once on a crash: bronze resumes from its checkpoint, the rest overwrite.
#: This is the only retry of a failing step: the instance's run retries are for crashed run
#: workers only (`retry_on_asset_or_op_failure: false` in deploy/dagster.yaml), so a failing Spark
#: step is attempted at most twice per request, not (1 + 1) x (1 + 2) = 6 times.
SPARK_RETRY = dg.RetryPolicy(
    max_retries=1, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def session(pyspark: Any) -> SparkSession:
    """The run's Spark session from the `pyspark` resource (attached to Spark Connect when the
    platform's server answers, else an in-process driver: `resources/spark.py`)."""
    spark: SparkSession = pyspark.spark_session
    return spark


def partition_days(context: dg.AssetExecutionContext) -> list[date]:
    """The UTC days of the run's daily partitions: one, or a range (backfills run as one run)."""
    return [date.fromisoformat(key) for key in context.partition_keys]


#: The most days a daily Spark asset builds in one Spark plan: a longer range (a year's backfill) is
#: built, written and checked a chunk at a time, so the driver's memory and each plan stay bounded.
RANGE_CHUNK_DAYS = 31


def day_chunks(days: Sequence[date], size: int = RANGE_CHUNK_DAYS) -> list[list[date]]:
    """`days` in order, in consecutive chunks of at most `size` days."""
    if size < 1:
        raise ValueError(f"a chunk holds at least one day, got {size}")
    ordered = sorted(days)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def days_label(days: Sequence[date]) -> str:
    """`dt=2026-10-01` for one day, `dt=2026-10-01..2026-10-31` for a range (metadata, logs)."""
    return f"dt={days[0]}" if len(days) == 1 else f"dt={days[0]}..{days[-1]}"


def combine(outcomes: list[Outcome]) -> Outcome:
    """One outcome for several days: passed when every day passed; failing days' messages first."""
    if len(outcomes) == 1:
        return outcomes[0]
    failed = [o for o in outcomes if not o.passed]
    shown = failed or outcomes[-1:]
    message = "; ".join(o.message for o in shown)
    if len(outcomes) > len(shown):
        message += f" ({len(outcomes) - len(failed)} of {len(outcomes)} days passed)"
    metadata: dict[str, Any] = {}
    for outcome in outcomes:
        for key, value in outcome.metadata.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                metadata[key] = metadata.get(key, 0) + value
    return Outcome(not failed, message, metadata)


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


#: `partitioned_by` of a table without partitions (a daily asset that rebuilds it whole).
WHOLE_TABLE = "(whole table)"


def table_metadata(table: Table) -> dict[str, Any]:
    """Definition-time metadata of a silver/gold asset: column schema and storage layout."""
    return {
        "dagster/column_schema": column_schema(table),
        "table_key": ", ".join(table.key),
        "partitioned_by": table.partition_column or WHOLE_TABLE,
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
