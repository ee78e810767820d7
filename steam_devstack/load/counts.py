"""What each stage of a load run holds, counted where it is stored (Spark on the lake, Elasticsearch).

Event id stages give rows, distinct ids and the ids' fingerprint (`accounting.id_fingerprint`,
computed here by Spark: the first 15 hex digits of each distinct id as a number, summed as a
decimal); the mart and the indices give their row counts and the sums they must preserve.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from steam_devstack.load.accounting import FINGERPRINT_HEX, IdCount
from steam_platform.assets.marts.tables import MART_GAME_DAILY
from steam_platform.assets.search.templates import IndexSpec
from steam_platform.assets.warehouse.tables import FACT_NEWS, FACT_PLAYER_COUNTS
from steam_platform.core.contracts import Table
from steam_platform.core.spark_schemas import written_schema
from steam_platform.resources.es_client import SearchClient
from streaming.envelope_schema import BRONZE_SCHEMA, QUARANTINE_SCHEMA
from streaming.lake_paths import bronze_path, quarantine_path
from streaming.tables_io import read_table


def id_count(frame: DataFrame) -> IdCount:
    """Rows, distinct `event_id`s and their fingerprint, in one pass over `frame`."""
    per_id = frame.groupBy("event_id").agg(F.count("*").alias("n"))
    share = F.conv(F.substring("event_id", 1, FINGERPRINT_HEX), 16, 10).cast("decimal(38,0)")
    row = per_id.agg(
        F.sum("n").alias("rows"), F.count("*").alias("distinct"), F.sum(share).alias("fingerprint")
    ).collect()[0]
    return IdCount(int(row["rows"] or 0), int(row["distinct"] or 0), int(row["fingerprint"] or 0))


def bronze_ids(spark: SparkSession, lake_root: str, topic: str) -> IdCount:
    """The event ids landed in bronze for `topic`."""
    return id_count(read_table(spark, bronze_path(lake_root, topic), BRONZE_SCHEMA))


def quarantined(spark: SparkSession, lake_root: str, topic: str) -> int:
    """Records of `topic` that bronze could not parse."""
    return read_table(spark, quarantine_path(lake_root, topic), QUARANTINE_SCHEMA).count()


def _table(spark: SparkSession, table: Table, lake_root: str) -> DataFrame:
    return read_table(spark, table.path(lake_root), written_schema(table))


@dataclass(frozen=True)
class WarehouseCounts:
    """The fact tables' event ids, and how many player-count rows carry a count (live)."""

    players: IdCount
    live: int
    news: IdCount


def warehouse_counts(spark: SparkSession, lake_root: str) -> WarehouseCounts:
    counts = _table(spark, FACT_PLAYER_COUNTS, lake_root)
    live = counts.where(F.col("player_count").isNotNull()).count()
    return WarehouseCounts(id_count(counts), live, id_count(_table(spark, FACT_NEWS, lake_root)))


@dataclass(frozen=True)
class MartCounts:
    """`mart_game_daily`: rows (app-days), samples and news posts summed over the window."""

    rows: int
    samples: int
    news_posts: int


def mart_counts(spark: SparkSession, lake_root: str) -> MartCounts:
    row = (
        _table(spark, MART_GAME_DAILY, lake_root)
        .agg(F.count("*").alias("rows"), F.sum("samples").alias("s"), F.sum("news_posts").alias("p"))
        .collect()[0]
    )
    return MartCounts(int(row["rows"] or 0), int(row["s"] or 0), int(row["p"] or 0))


@dataclass(frozen=True)
class SearchCounts:
    """Documents behind the run's aliases, and the mart's samples as Elasticsearch sums them."""

    game_daily_docs: int
    game_daily_samples: int
    news_docs: int


def search_counts(es: SearchClient, game_daily: IndexSpec, news: IndexSpec) -> SearchCounts:
    body = {"size": 0, "aggs": {"samples": {"sum": {"field": "samples"}}}}
    samples = es.search(game_daily.alias, body)["aggregations"]["samples"]["value"] or 0
    return SearchCounts(es.count(game_daily.alias), round(samples), es.count(news.alias))
