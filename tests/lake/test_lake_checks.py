"""The warehouse checks fail, with a message a person can act on, on injected faults.

Faults are injected into a real lake on the object store: a duplicated row, a negative player
count, a deleted partition; and a negative count arriving through Kafka must stop the mart built
on it in the same run (blocking check).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

import dagster as dg
import pytest
from lake_support import at, player_count_message, produce
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from steam_platform.assets.lake.bronze import bronze_assets
from steam_platform.assets.marts.assets import mart_game_daily
from steam_platform.assets.warehouse.assets import fact_assets
from steam_platform.assets.warehouse.facts import FACTS
from steam_platform.assets.warehouse.quality import (
    CHECK_NON_NEGATIVE,
    CHECK_RECONCILE,
    CHECK_SCHEMA,
    CHECK_UNIQUE,
    fact_outcomes,
    schema_outcome,
)
from steam_platform.assets.warehouse.tables import FACT_PLAYER_COUNTS
from steam_platform.core import sources
from steam_platform.core.spark_schemas import written_schema
from steam_platform.events.envelope import envelope
from steam_platform.resources.kafka import KafkaResource, OutgoingMessage
from steam_platform.resources.s3 import S3Resource
from steam_platform.resources.spark import LakePySparkResource
from streaming.hadoop_fs import delete
from streaming.tables_io import read_days

pytestmark = pytest.mark.integration

DAY = date(2026, 10, 21)
APP = 9_100_001


def _negative_count(when: str, count: int) -> OutgoingMessage:
    """An envelope that bypassed the ingest contract (payload says a negative count)."""
    env = envelope(
        source="ISteamUserStats/GetNumberOfCurrentPlayers/v1",
        natural_key=(APP, when),
        observed_at=at(when),
        partition_key="x",
        payload={"appid": APP, "result": 1, "player_count": count},
    )
    return OutgoingMessage(sources.PLAYER_COUNTS.topic, key=str(APP), value=env.to_json_bytes())


def test_checks_name_the_duplicate_the_negative_and_the_missing_partition(
    spark: SparkSession,
    lake_kafka: KafkaResource,
    fresh_s3: Callable[[], S3Resource],
    pyspark_resource: LakePySparkResource,
) -> None:
    s3 = fresh_s3()
    produce(
        lake_kafka,
        [
            player_count_message(
                sources.PLAYER_COUNTS.topic, APP, at("2026-10-21T00:00") + timedelta(hours=h), 50 + h
            )
            for h in range(6)
        ],
    )
    resources = {"s3": s3, "kafka": lake_kafka, "pyspark": pyspark_resource}
    assert dg.materialize(bronze_assets[:1], resources=resources).success
    assert dg.materialize(fact_assets[:1], resources=resources, partition_key=DAY.isoformat()).success
    spec, root = FACTS["fact_player_counts"], s3.lake_root()
    ok = fact_outcomes(spark, spec, root, DAY)
    assert all(o.passed for o in ok.values()), {k: o.message for k, o in ok.items()}

    path = FACT_PLAYER_COUNTS.path(root)
    day_rows = read_days(spark, path, written_schema(FACT_PLAYER_COUNTS), [DAY])
    dup_id = day_rows.orderBy("event_id").first().event_id  # type: ignore[union-attr]
    injected = day_rows.where(F.col("event_id") == dup_id).withColumn("player_count", F.lit(-7).cast("long"))
    injected.write.mode("append").partitionBy("dt").parquet(path)

    broken = fact_outcomes(spark, spec, root, DAY)
    assert not broken[CHECK_UNIQUE].passed
    assert f"{dup_id} x2" in broken[CHECK_UNIQUE].message
    assert not broken[CHECK_NON_NEGATIVE].passed
    assert "1 row(s) with negative player_count" in broken[CHECK_NON_NEGATIVE].message
    assert f"{dup_id}=-7" in broken[CHECK_NON_NEGATIVE].message
    assert not broken[CHECK_RECONCILE].passed
    assert "7 rows but bronze holds 6 distinct event(s) (+1)" in broken[CHECK_RECONCILE].message
    assert broken[CHECK_SCHEMA].passed

    # A wrongly typed column is named with both types.
    retyped = day_rows.limit(1).withColumn("player_count", F.col("player_count").cast("string"))
    retyped.write.mode("overwrite").parquet(f"{root}/warehouse/broken_table")
    bad_schema = schema_outcome(spark, replace(FACT_PLAYER_COUNTS, name="broken_table"), root)
    assert not bad_schema.passed
    assert "player_count: string (contract bigint)" in bad_schema.message

    delete(spark, f"{path}/dt={DAY}")
    missing = fact_outcomes(spark, spec, root, DAY)
    # No files left: nothing to compare the schema with (emptiness is data); the missing rows are
    # what fails, in the reconciliation with bronze.
    assert missing[CHECK_SCHEMA].passed
    assert f"fact_player_counts: no rows yet: nothing to compare (no data files at {path})" == (
        missing[CHECK_SCHEMA].message
    )
    assert not missing[CHECK_RECONCILE].passed
    assert f"fact_player_counts dt={DAY}: partition missing or empty, but bronze holds 6 event(s)" in (
        missing[CHECK_RECONCILE].message
    )


def test_negative_count_from_kafka_blocks_the_mart(
    lake_kafka: KafkaResource,
    fresh_s3: Callable[[], S3Resource],
    pyspark_resource: LakePySparkResource,
) -> None:
    s3 = fresh_s3()
    day = date(2026, 10, 22)
    produce(lake_kafka, [_negative_count("2026-10-22T05:00", -3), _negative_count("2026-10-22T06:00", 12)])
    resources = {"s3": s3, "kafka": lake_kafka, "pyspark": pyspark_resource}
    assert dg.materialize(bronze_assets[:1], resources=resources).success
    result = dg.materialize(
        [fact_assets[0], mart_game_daily],
        resources=resources,
        partition_key=day.isoformat(),
        raise_on_error=False,
    )
    failed = {e.check_name: e.description for e in result.get_asset_check_evaluations() if not e.passed}
    assert set(failed) == {CHECK_NON_NEGATIVE}
    assert "negative player_count" in str(failed[CHECK_NON_NEGATIVE]) and "=-3" in str(
        failed[CHECK_NON_NEGATIVE]
    )
    assert result.asset_materializations_for_node("fact_player_counts")
    assert not result.asset_materializations_for_node("mart_game_daily")  # blocked by the failed check
