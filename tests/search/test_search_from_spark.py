"""Mart partitions written by Spark on the S3 server (the lake layer's writer, dynamic partition
overwrite, `dt` only in the folder name) are indexed by the search assets: counts equal Spark's
row counts, a known game returns its figures, CJK titles are found, and a day rewritten by Spark
with fewer rows leaves no stale documents behind."""

from __future__ import annotations

from datetime import date
from typing import Any

import dagster as dg
import pytest
from pyspark.sql import SparkSession
from search_support import CHINESE_TITLE, KOREAN_TITLE, game_daily_rows, news_impact_rows

from steam_platform.assets.marts.tables import MART_GAME_DAILY, MART_NEWS_IMPACT
from steam_platform.assets.search.assets import search_game_daily, search_news_impact
from steam_platform.core.contracts import Table
from steam_platform.core.spark_schemas import spark_schema
from steam_platform.resources.elasticsearch import ElasticsearchResource
from steam_platform.resources.es_client import SearchClient
from steam_platform.resources.s3 import S3Resource
from streaming.tables_io import conform, write_days

pytestmark = pytest.mark.integration

DAY = date(2026, 10, 12)


def _spark_write(spark: SparkSession, s3: S3Resource, table: Table, rows: list[dict[str, Any]]) -> int:
    schema = spark_schema(table)
    frame = spark.createDataFrame([{**r, "dt": DAY} for r in rows], schema=schema)
    return write_days(spark, conform(frame, schema), table.path(s3.lake_root()), [DAY])


def _run(asset: Any, s3: S3Resource, es_resource: ElasticsearchResource) -> dict[str, Any]:
    result = dg.materialize(
        [asset],
        partition_key=DAY.isoformat(),
        resources={"elasticsearch": es_resource, "s3": s3},
        instance=dg.DagsterInstance.ephemeral(),
    )
    (mat,) = result.asset_materializations_for_node(asset.key.to_user_string())
    return {k: v.value for k, v in mat.metadata.items()}


def test_spark_written_marts_are_indexed_completely(
    spark: SparkSession, s3: S3Resource, es: SearchClient, es_resource: ElasticsearchResource
) -> None:
    rows = game_daily_rows(DAY.isoformat())
    written = _spark_write(spark, s3, MART_GAME_DAILY, rows)
    meta = _run(search_game_daily, s3, es_resource)
    assert meta["rows_in_lake"] == meta["docs_indexed"] == written == len(rows)
    assert es.count("mart_game_daily") == written
    doc = es.get_document("mart_game_daily", f"570:{DAY}")
    expected = next(r for r in rows if r["appid"] == 570)
    assert (doc["peak_players"], doc["avg_players"], doc["app_name"]) == (
        expected["peak_players"],
        expected["avg_players"],
        "Dota 2",
    )

    impact = news_impact_rows(DAY.isoformat())
    assert _spark_write(spark, s3, MART_NEWS_IMPACT, impact) == len(impact)
    meta = _run(search_news_impact, s3, es_resource)
    assert meta["docs_indexed"] == len(impact)
    for word, title in (("업데이트", KOREAN_TITLE), ("悟空", CHINESE_TITLE)):
        hits = es.search("mart_news_impact", {"query": {"match": {"title": word}}})["hits"]["hits"]
        assert [h["_source"]["title"] for h in hits] == [title]
    published = es.get_document("mart_news_impact", impact[0]["gid"])["published_at"]
    assert published == impact[0]["published_at"].isoformat().replace("+00:00", "Z")

    # Spark rewrites the day without two games: the partition sync deletes their documents.
    kept = [r for r in rows if r["appid"] not in (570, 730)]
    assert _spark_write(spark, s3, MART_GAME_DAILY, kept) == len(kept)
    meta = _run(search_game_daily, s3, es_resource)
    assert (meta["mode"], meta["docs_indexed"], meta["docs_deleted"]) == ("partition", len(kept), 2)
    assert es.count("mart_game_daily") == len(kept)
    assert not es.document_exists("mart_game_daily", f"570:{DAY}")
