"""Marts (gold): per-day game stats, news impact on player counts, daily rankings, built by Spark.

Each daily partition reads the silver days it needs (declared as partition mappings, so a
backfill runs them in order and waits for their inputs), and replaces its own `dt=` folder. A run
may cover a range of days (one Spark session for a whole backfill), built range-native (one plan,
the range's silver days read once) a chunk of at most `RANGE_CHUNK_DAYS` days at a time. Their
checks block: a mart that breaks its contract fails its run and is never indexed.
"""

import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
from dagster_pyspark import PySparkResource
from pydantic import Field
from pyspark.sql import DataFrame, SparkSession

from steam_platform.assets.marts import gap_summary
from steam_platform.assets.marts.tables import (
    MART_GAME_DAILY,
    MART_NEWS_IMPACT,
    MART_PLAYER_COUNT_GAPS,
    MART_TOP_GAMES,
)
from steam_platform.assets.warehouse.quality import CHECK_SCHEMA, schema_outcome
from steam_platform.assets.warehouse.tables import DIM_APP, FACT_NEWS, FACT_PLAYER_COUNTS
from steam_platform.core import sources
from steam_platform.core.automation_conditions import FOLLOW_UPSTREAM_PAST_DAYS
from steam_platform.core.backfill import SINGLE_RUN_BACKFILL
from steam_platform.core.cadence import Cadence, freshness, poll_interval_minutes
from steam_platform.core.constants import GROUP_MARTS
from steam_platform.core.contracts import Table
from steam_platform.core.partitions import daily_partitions
from steam_platform.core.spark_schemas import spark_schema, written_schema
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
from steam_platform.core.tracked import load_tracked
from steam_platform.resources.s3 import S3Resource
from streaming import marts, player_gaps
from streaming.quality import no_duplicate_keys
from streaming.tables_io import conform, read_days, read_table, write_days

CHECK_KEY = "unique_key"
#: The day before (rank change), or the day before and after (news windows crossing midnight).
#: Nonexistent neighbours are allowed: the first day has no previous one, today no next one.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)  # the flag is beta in 1.13; the mapping is not
    PREVIOUS_DAY = dg.TimeWindowPartitionMapping(
        start_offset=-1, end_offset=0, allow_nonexistent_upstream_partitions=True
    )
    NEIGHBOUR_DAYS = dg.TimeWindowPartitionMapping(
        start_offset=-1, end_offset=1, allow_nonexistent_upstream_partitions=True
    )


def _mart_asset(
    table: Table, deps: list[str | dg.AssetDep], extra_checks: Sequence[dg.AssetCheckSpec] = ()
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """The daily Spark asset every mart is: shared pool, retries, single-run backfills, freshness
    (refreshed with every player-count poll), automation for past days, contract metadata and the
    two blocking checks (schema as declared in tables.py, one row per key), plus `extra_checks`."""
    return dg.asset(
        name=table.name,
        group_name=GROUP_MARTS,
        partitions_def=daily_partitions,
        deps=deps,
        kinds={"spark", "parquet", "s3"},
        pool=POOL_SPARK,
        op_tags=step_priority_tags(table.name),
        retry_policy=SPARK_RETRY,
        backfill_policy=SINGLE_RUN_BACKFILL,
        freshness_policy=freshness(Cadence.POLL),
        automation_condition=FOLLOW_UPSTREAM_PAST_DAYS,
        metadata=table_metadata(table),
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_SCHEMA,
                asset=table.name,
                blocking=True,
                description="Written columns and types equal tables.py",
            ),
            dg.AssetCheckSpec(
                CHECK_KEY,
                asset=table.name,
                blocking=True,
                description=f"One row per ({', '.join(table.key)})",
            ),
            *extra_checks,
        ],
    )


def _build(
    context: dg.AssetExecutionContext,
    spark: SparkSession,
    table: Table,
    rows_of_days: Callable[[list[date]], DataFrame],
    lake_root: str,
) -> dg.MaterializeResult:
    """Build the run's days a chunk at a time (`rows_of_days`: one plan per chunk), replace each
    chunk's partitions, and check what was written."""
    days = partition_days(context)
    written, schema, keys = 0, [], []
    for chunk in day_chunks(days):
        rows = conform(rows_of_days(chunk), spark_schema(table))
        written += write_days(spark, rows, table.path(lake_root), chunk)
        back = read_days(spark, table.path(lake_root), written_schema(table), chunk)
        keys.append(
            no_duplicate_keys(
                back.selectExpr(
                    f"concat_ws('|', {', '.join(f'CAST({k} AS STRING)' for k in table.key)}) AS k"
                ),
                table.name,
                key="k",
            )
        )
        schema.append(schema_outcome(spark, table, lake_root, chunk))
        if len(chunk) < len(days):
            context.log.info(f"{table.name}: {days_label(chunk)} built")
    return dg.MaterializeResult(
        metadata={"dagster/row_count": written, "path": f"{table.path(lake_root)}/{days_label(days)}"},
        check_results=[
            check_result(CHECK_SCHEMA, schema[0] if len(schema) == 1 else combine(schema)),
            check_result(CHECK_KEY, keys[0] if len(keys) == 1 else combine(keys)),
        ],
    )


def _silver(spark: SparkSession, table: Table, lake_root: str, days: list[date]) -> DataFrame:
    """The silver/gold table's rows of `days`."""
    return read_days(spark, table.path(lake_root), written_schema(table), days)


def _with_neighbours(days: list[date]) -> list[date]:
    """`days` with the day before the first and after the last (the range of days between)."""
    first, last = days[0] - timedelta(days=1), days[-1] + timedelta(days=1)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _dim_app(spark: SparkSession, lake_root: str) -> DataFrame:
    """Every version of every app (marts take the current name)."""
    return read_table(spark, DIM_APP.path(lake_root), written_schema(DIM_APP))


@_mart_asset(
    MART_GAME_DAILY,
    deps=["fact_player_counts", "fact_news", "dim_app"],
)
def mart_game_daily(
    context: dg.AssetExecutionContext, pyspark: PySparkResource, s3: S3Resource
) -> dg.MaterializeResult:
    """Per app and day: peak, average and minimum concurrent players, samples and news posts."""
    spark, root = session(pyspark), s3.lake_root()
    apps = _dim_app(spark, root)

    def of_days(days: list[date]) -> DataFrame:
        counts, news = _silver(spark, FACT_PLAYER_COUNTS, root, days), _silver(spark, FACT_NEWS, root, days)
        return marts.mart_game_daily_of_days(counts, news, apps, days)

    return _build(context, spark, MART_GAME_DAILY, of_days, root)


class NewsImpactConfig(dg.Config):
    """How far around a post players are compared."""

    window_hours: int = Field(default=6, ge=1, le=24, description="Hours before and after each post.")


@_mart_asset(
    MART_NEWS_IMPACT,
    deps=[
        dg.AssetDep("fact_news"),
        dg.AssetDep("fact_player_counts", partition_mapping=NEIGHBOUR_DAYS),
        dg.AssetDep("dim_app"),
    ],
)
def mart_news_impact(
    context: dg.AssetExecutionContext, config: NewsImpactConfig, pyspark: PySparkResource, s3: S3Resource
) -> dg.MaterializeResult:
    """Per news post: average players in the hours before vs after publication.

    Player counts of the previous and next day are read too, so posts near midnight are measured
    on full windows (the next day is partial until it has been built).
    """
    spark, root = session(pyspark), s3.lake_root()
    apps = _dim_app(spark, root)

    def of_days(days: list[date]) -> DataFrame:
        news = _silver(spark, FACT_NEWS, root, days)
        counts = _silver(spark, FACT_PLAYER_COUNTS, root, _with_neighbours(days))
        return marts.mart_news_impact_of_days(news, counts, apps, days, config.window_hours)

    return _build(context, spark, MART_NEWS_IMPACT, of_days, root)


@_mart_asset(
    MART_TOP_GAMES,
    deps=[dg.AssetDep("mart_game_daily", partition_mapping=PREVIOUS_DAY)],
)
def mart_top_games(
    context: dg.AssetExecutionContext, pyspark: PySparkResource, s3: S3Resource
) -> dg.MaterializeResult:
    """Daily ranking by peak players with the rank change vs the previous day."""
    spark, root = session(pyspark), s3.lake_root()

    def of_days(days: list[date]) -> DataFrame:
        previous = {day - timedelta(days=1) for day in days}
        daily = _silver(spark, MART_GAME_DAILY, root, sorted(previous | set(days)))
        return marts.mart_top_games_of_days(daily, days)

    return _build(context, spark, MART_TOP_GAMES, of_days, root)


def _closed_until(context: dg.AssetExecutionContext) -> datetime:
    """The moment up to which poll slots count as closed: when this run started.

    The run lands bronze after it starts, so every poll whose slot closed before the start had its
    whole slot to reach Kafka; a slot that closes while the run is busy (a long run, 2-minute polls)
    is judged by the next run instead of being called a gap that is not one.
    """
    record = context.instance.get_run_record_by_id(context.run.run_id)
    started = record.start_time if record is not None else None
    return datetime.fromtimestamp(started, UTC) if started else datetime.now(UTC)


def _first_poll(instance: dg.DagsterInstance) -> datetime | None:
    """When the platform first polled player counts: its oldest `player_counts` materialisation in
    the instance (None when it never did, e.g. a lake rebuilt elsewhere). Slots before it were never
    scheduled, so they are not gaps: a new deployment's first day raises no alarm."""
    (ingest,) = sources.PLAYER_COUNTS.ingest_assets
    oldest = instance.fetch_materializations(dg.AssetKey(ingest), limit=1, ascending=True).records
    return datetime.fromtimestamp(oldest[0].timestamp, UTC) if oldest else None


@_mart_asset(
    MART_PLAYER_COUNT_GAPS,
    deps=["fact_player_counts", "dim_app"],
    extra_checks=[
        dg.AssetCheckSpec(
            gap_summary.CHECK_NO_GAPS,
            asset=MART_PLAYER_COUNT_GAPS.name,
            blocking=False,
            description="WARN when a player-count poll of the day was missed (per-app summary in metadata)",
        )
    ],
)
def mart_player_count_gaps(
    context: dg.AssetExecutionContext, pyspark: PySparkResource, s3: S3Resource
) -> dg.MaterializeResult:
    """Per app and UTC hour: the player-count polls that were missed and can never be made up.

    Expected apps are the tracked set (read here, passed to the pure rule as data) plus every app
    with a snapshot that day; expected slots follow `STEAM_POLL_INTERVAL_MINUTES`, start with the
    platform's first poll and, for the day in progress, end with the last slot closed when the run
    started. The gap check is computed in
    this step from the rows just written (a separate `@asset_check` would read the lake again in a
    second Spark step): a WARN, never blocking, because a gap is recorded data, not a broken mart.
    """
    spark, root = session(pyspark), s3.lake_root()
    apps, tracked = _dim_app(spark, root), load_tracked().apps
    interval, closed_until = poll_interval_minutes(), _closed_until(context)
    first_poll = _first_poll(context.instance)
    days = partition_days(context)

    def of_days(chunk: list[date]) -> DataFrame:
        counts = _silver(spark, FACT_PLAYER_COUNTS, root, chunk)
        return player_gaps.mart_player_count_gaps_of_days(
            counts, apps, tracked, chunk, interval, closed_until, first_poll
        )

    built = _build(context, spark, MART_PLAYER_COUNT_GAPS, of_days, root)
    rows = [
        gap_summary.GapRow(
            r.appid, r.app_name, r.hour_start.astimezone(UTC), r.missing_slots, r.missing_slot_times
        )
        for r in _silver(spark, MART_PLAYER_COUNT_GAPS, root, days)
        .select("appid", "app_name", "hour_start", "missing_slots", "missing_slot_times")
        .collect()
    ]
    return dg.MaterializeResult(
        metadata={
            **(built.metadata or {}),
            **gap_summary.materialization_metadata(rows),
            "poll_interval_minutes": interval,
            "closed_until": closed_until.isoformat(),
            "first_poll": first_poll.isoformat() if first_poll else "none recorded (every slot expected)",
        },
        check_results=[
            *(built.check_results or []),
            gap_summary.check_result(rows, [d.isoformat() for d in days]),
        ],
    )
