"""Quiet and partial data never stall the pipeline (issue #8): every layer builds on empty input.

A quiet day is normal data, not an error: no news published, every tracked app unreleased, nobody
tracked, a store outage that left the app details partial, a bronze run with nothing new, a fresh
deployment where nothing was ever written. Each case runs on the real servers through the layers
after it (ingest -> Kafka -> bronze -> warehouse -> marts where it starts at ingest), and every
check must pass. The checks stay strict about real contract breaks: a written file with the wrong
schema fails, zero rows or not.

The platform's topics are shared by the whole test session, so each case uses days (or apps) no
other test produces data for, and a fresh bucket (an empty lake).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests
import yaml
from ingest_support import SimAdmin, clean_sim, sim
from lake_support import at, materialize_checked, player_count_message, produce
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from steam_platform.assets.ingest.definitions import app_details, news, player_activity, player_counts
from steam_platform.assets.ingest.players import POLL_SLOT_TAG, poll_slot
from steam_platform.assets.lake.bronze import CHECK_OFFSETS, bronze_assets, offsets_outcome
from steam_platform.assets.marts.assets import mart_game_daily, mart_news_impact, mart_top_games
from steam_platform.assets.marts.tables import MART_GAME_DAILY, MART_NEWS_IMPACT, MART_TOP_GAMES
from steam_platform.assets.warehouse.assets import dim_app, fact_assets
from steam_platform.assets.warehouse.quality import CHECK_RECONCILE, CHECK_SCHEMA, schema_outcome
from steam_platform.assets.warehouse.tables import DIM_APP, FACT_NEWS, FACT_PLAYER_COUNTS, FACT_PLAYTIME
from steam_platform.core import sources
from steam_platform.core.contracts import Table
from steam_platform.core.partitions import hourly_partitions
from steam_platform.core.spark_schemas import spark_schema, written_schema
from steam_platform.resources.kafka import KafkaResource, TopicSpec
from steam_platform.resources.s3 import S3Resource
from steam_platform.resources.spark import LakePySparkResource
from streaming.bronze import BronzeJob, run_bronze
from streaming.tables_io import read_days, read_table

pytestmark = pytest.mark.integration
__all__ = ["clean_sim", "sim"]  # the simulator fixtures of tests/ingest_support.py

SILVER = [*fact_assets, dim_app]
MARTS = [mart_game_daily, mart_news_impact, mart_top_games]
DAILY_TABLES = (
    FACT_PLAYER_COUNTS,
    FACT_NEWS,
    FACT_PLAYTIME,
    MART_GAME_DAILY,
    MART_NEWS_IMPACT,
    MART_TOP_GAMES,
)

#: Days no other test produces data for (tests share the platform's topics within a session).
DAY_NO_NEWS = date(2026, 10, 25)
DAY_NOT_LIVE = date(2026, 10, 26)
DAY_NO_PLAYERS = date(2026, 10, 27)
DAY_STORE_OUTAGE = date(2026, 10, 28)
DAY_NOTHING = date(2026, 10, 29)
DAY_BAD_FILE = date(2026, 10, 30)
#: App ids no simulator serves and no other test uses.
OWN_APPS = (9_400_001, 9_400_002)  # the cluster dataset has 9,300,00x
NO_ROWS_YET = "no rows yet: nothing to compare"


def _asset(name: str) -> dg.AssetsDefinition:
    """One of the lake's assets by name."""
    every = [*bronze_assets, *SILVER, *MARTS]
    return next(a for a in every if a.key.to_user_string() == name)


class QuietLake:
    """Materialises the lake's assets into one fresh bucket and reads its tables back."""

    def __init__(
        self, s3: S3Resource, kafka: KafkaResource, pyspark: LakePySparkResource, spark: SparkSession
    ) -> None:
        self.s3, self.spark = s3, spark
        self.root = s3.lake_root()
        self.resources = {"s3": s3, "kafka": kafka, "pyspark": pyspark}

    def run(self, assets: Sequence[Any], day: date | None = None) -> dg.ExecuteInProcessResult:
        """Materialise `assets` (partition `day`); the run and every check must succeed."""
        return materialize_checked(assets, self.resources, [day] if day else [])

    def rows(self, table: Table, day: date | None = None) -> list[dict[str, Any]]:
        """The table's rows (of partition `day` when given)."""
        schema = written_schema(table)
        frame = (
            read_days(self.spark, table.path(self.root), schema, [day])
            if day
            else read_table(self.spark, table.path(self.root), schema)
        )
        return [r.asDict() for r in frame.collect()]


@pytest.fixture
def quiet_lake(
    fresh_s3: Callable[[], S3Resource],
    lake_kafka: KafkaResource,
    pyspark_resource: LakePySparkResource,
    spark: SparkSession,
) -> QuietLake:
    """An empty lake in a fresh bucket (a fresh deployment)."""
    return QuietLake(fresh_s3(), lake_kafka, pyspark_resource, spark)


def _track(
    monkeypatch: pytest.MonkeyPatch, folder: Path, apps: Sequence[int], players: Sequence[str] = ()
) -> None:
    """Point the ingest assets at our own tracked set (`STEAM_TRACKED_CONFIG`)."""
    path = folder / "tracked.yaml"
    path.write_text(yaml.safe_dump({"apps": list(apps), "players": list(players)}))
    monkeypatch.setenv("STEAM_TRACKED_CONFIG", str(path))


def _ingest(
    asset: dg.AssetsDefinition,
    partition: str,
    steam: Any,
    kafka: KafkaResource,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Materialise one ingest asset (it must succeed) and return its metadata values."""
    result = dg.materialize(
        [asset], partition_key=partition, resources={"steam": steam, "kafka": kafka}, tags=tags
    )
    assert result.success
    (materialization,) = result.asset_materializations_for_node(asset.key.to_user_string())
    return {k: v.value for k, v in materialization.metadata.items()}


def _checks(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, str]:
    """Check name -> message of `asset`'s checks in `result`."""
    return {
        e.check_name: str(e.description)
        for e in result.get_asset_check_evaluations()
        if e.asset_key.to_user_string() == asset
    }


def _live_counts(apps: Sequence[int], day: date) -> list[Any]:
    """Live player-count observations of `apps` every three hours of `day`."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return [
        player_count_message(sources.PLAYER_COUNTS.topic, app, start + timedelta(hours=h), 100 + h)
        for app in apps
        for h in range(0, 24, 3)
    ]


def test_a_day_without_news_builds_empty_fact_news_and_its_marts(
    sim: SimAdmin,
    lake_kafka: KafkaResource,
    quiet_lake: QuietLake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    quiet_apps = sim.info()["examples"]["dlc_appids"]  # DLC never publishes news
    _track(monkeypatch, tmp_path, quiet_apps)
    meta = _ingest(news, DAY_NO_NEWS.isoformat(), sim.steam(tmp_path / "steam"), lake_kafka)
    assert meta["events_total"] == 0 and meta["apps_with_news"] == 0 and meta["skipped_count"] == 0
    assert sim.calls()["by_endpoint"]["ISteamNews/GetNewsForApp"] == len(quiet_apps)
    produce(lake_kafka, _live_counts(OWN_APPS, DAY_NO_NEWS))  # players played; nobody posted

    lake = quiet_lake
    lake.run([_asset("bronze_news"), _asset("bronze_player_counts")])
    silver = lake.run(SILVER, DAY_NO_NEWS)
    assert lake.rows(FACT_NEWS, DAY_NO_NEWS) == []
    fact_news_checks = _checks(silver, "fact_news")
    assert NO_ROWS_YET in fact_news_checks[CHECK_SCHEMA]  # a fresh deployment: fact_news never written
    assert "quiet day" in fact_news_checks[CHECK_RECONCILE]

    marts = lake.run(MARTS, DAY_NO_NEWS)
    daily = {r["appid"]: r for r in lake.rows(MART_GAME_DAILY, DAY_NO_NEWS)}
    assert set(daily) == set(OWN_APPS)
    assert all(r["news_posts"] == 0 and r["samples"] == 8 for r in daily.values())
    assert lake.rows(MART_NEWS_IMPACT, DAY_NO_NEWS) == []
    assert NO_ROWS_YET in _checks(marts, "mart_news_impact")[CHECK_SCHEMA]


def test_an_hour_of_unreleased_apps_is_data_and_the_day_builds(
    sim: SimAdmin,
    lake_kafka: KafkaResource,
    quiet_lake: QuietLake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    info = sim.info()
    apps = [*info["examples"]["unreleased_appids"], info["examples"]["unknown_appid"]]
    # Frozen at the moment the examples were taken, so none of them launches during the test.
    requests.post(f"{sim.base_url}/__sim/clock", json={"now": info["now"]}, timeout=10).raise_for_status()
    _track(monkeypatch, tmp_path, apps)
    slot = poll_slot(datetime.now(UTC), 10)  # a snapshot of now, as the schedule takes it
    hour = hourly_partitions.get_partition_key_for_timestamp(slot.timestamp())
    steam = sim.steam(tmp_path / "steam")
    meta = _ingest(player_counts, hour, steam, lake_kafka, tags={POLL_SLOT_TAG: slot.isoformat()})
    # Every answer was 404 {"result": 42}: observations of apps that are not live, not failures.
    assert meta["apps_not_live"] == meta["events_total"] == len(apps)
    assert meta["skipped_count"] == 0 and meta["dead_lettered"] == 0
    today = slot.date()
    # A whole day of "no match" answers only (no other test produces counts on that day).
    not_live = [
        player_count_message(sources.PLAYER_COUNTS.topic, a, at("2026-10-26T10:00"), None) for a in OWN_APPS
    ]
    produce(lake_kafka, not_live)

    lake = quiet_lake
    lake.run([_asset("bronze_player_counts")])
    for day in (today, DAY_NOT_LIVE):
        lake.run(SILVER, day)
        lake.run(MARTS, day)
    counts = [r for r in lake.rows(FACT_PLAYER_COUNTS, today) if r["appid"] in apps]
    assert sorted(r["appid"] for r in counts) == sorted(apps)
    assert all(r["player_count"] is None and r["is_live"] is False for r in counts)
    daily = {r["appid"]: r for r in lake.rows(MART_GAME_DAILY, today) if r["appid"] in apps}
    assert set(daily) == set(apps)
    assert all(r["samples"] == 0 and r["peak_players"] is None for r in daily.values())
    assert not {r["appid"] for r in lake.rows(MART_TOP_GAMES, today)} & set(apps)  # nothing to rank

    assert [r["is_live"] for r in lake.rows(FACT_PLAYER_COUNTS, DAY_NOT_LIVE)] == [False, False]
    assert {r["appid"]: r["samples"] for r in lake.rows(MART_GAME_DAILY, DAY_NOT_LIVE)} == dict.fromkeys(
        OWN_APPS, 0
    )
    assert lake.rows(MART_TOP_GAMES, DAY_NOT_LIVE) == []


def test_no_tracked_players_gives_an_empty_fact_playtime(
    sim: SimAdmin,
    lake_kafka: KafkaResource,
    quiet_lake: QuietLake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _track(monkeypatch, tmp_path, apps=[730], players=[])
    hour = f"{DAY_NO_PLAYERS.isoformat()}-05:00"
    meta = _ingest(player_activity, hour, sim.steam(tmp_path / "steam"), lake_kafka)
    assert meta["players_tracked"] == 0 and meta["events_total"] == 0 and meta["skipped_count"] == 0
    assert sim.calls()["total"] == 0

    lake = quiet_lake
    lake.run([_asset("bronze_playtime")])
    silver = lake.run([_asset("fact_playtime")], DAY_NO_PLAYERS)
    assert lake.rows(FACT_PLAYTIME, DAY_NO_PLAYERS) == []
    checks = _checks(silver, "fact_playtime")
    assert NO_ROWS_YET in checks[CHECK_SCHEMA] and "quiet day" in checks[CHECK_RECONCILE]


def test_a_store_outage_leaves_dim_app_partial_and_the_marts_build(
    sim: SimAdmin,
    lake_kafka: KafkaResource,
    quiet_lake: QuietLake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    examples = sim.info()["examples"]
    delisted = set(examples["delisted_appids"])
    # DLC and software: apps no other test asks the store about (the catalogue holds games only).
    apps = [a for a in [*examples["dlc_appids"], *examples["software_appids"]] if a not in delisted]
    down = [apps[1], apps[5]]  # apart, so the run never sees "Steam down" (5 failures in a row)
    sim.set_faults([{"endpoint": "store/appdetails", "kind": "503", "appids": down}])
    _track(monkeypatch, tmp_path, apps)
    steam = sim.steam(tmp_path / "steam", max_attempts=3)
    meta = _ingest(app_details, DAY_STORE_OUTAGE.isoformat(), steam, lake_kafka)
    # The missing apps are reported with the reason; the run succeeds with what arrived.
    assert meta["events_total"] == len(apps) - len(down)
    assert set(meta["skipped"]) == {str(a) for a in down}
    assert all(reason.startswith("unavailable") for reason in meta["skipped"].values())
    produce(lake_kafka, _live_counts(apps, DAY_STORE_OUTAGE))

    lake = quiet_lake
    lake.run([_asset("bronze_apps"), _asset("bronze_player_counts")])
    lake.run(SILVER, DAY_STORE_OUTAGE)
    current = {r["appid"]: r for r in lake.rows(DIM_APP) if r["is_current"] and r["appid"] in apps}
    assert set(current) == set(apps) - set(down)
    assert all(r["name"] for r in current.values())

    lake.run(MARTS, DAY_STORE_OUTAGE)
    daily = {r["appid"]: r for r in lake.rows(MART_GAME_DAILY, DAY_STORE_OUTAGE)}
    assert set(daily) == set(apps)
    assert {a for a, r in daily.items() if r["app_name"] is None} == set(down)  # named once they arrive
    assert {r["appid"] for r in lake.rows(MART_TOP_GAMES, DAY_STORE_OUTAGE)} == set(apps)


def test_a_fresh_deployment_builds_every_layer_empty(quiet_lake: QuietLake) -> None:
    lake = quiet_lake  # nothing ever landed: no bronze, no warehouse, no marts
    silver = lake.run(SILVER, DAY_NOTHING)
    marts = lake.run(MARTS, DAY_NOTHING)
    for table in DAILY_TABLES:
        assert lake.rows(table, DAY_NOTHING) == [], table.name
    assert lake.rows(DIM_APP) == []
    for asset in ("fact_player_counts", "fact_news", "fact_playtime"):
        assert NO_ROWS_YET in _checks(silver, asset)[CHECK_SCHEMA], asset
        assert "quiet day" in _checks(silver, asset)[CHECK_RECONCILE], asset
    for asset in ("mart_game_daily", "mart_news_impact", "mart_top_games"):
        assert NO_ROWS_YET in _checks(marts, asset)[CHECK_SCHEMA], asset


def test_a_bronze_run_with_nothing_new_lands_zero_rows_and_reconciles(
    spark: SparkSession, lake_kafka: KafkaResource, quiet_lake: QuietLake
) -> None:
    lake = quiet_lake
    # The first landing of a topic nobody produced to yet: no checkpoint, no bronze folder. The
    # outcome is what the bronze assets' offsets check reports.
    topic = f"test.quiet.{uuid.uuid4().hex[:8]}"
    lake_kafka.ensure_topics([TopicSpec(topic, partitions=3)])
    stats = run_bronze(spark, BronzeJob(topic, lake_kafka.bootstrap_servers, lake.root))
    assert stats.rows_landed == stats.rows_quarantined == stats.records_read == 0
    first = offsets_outcome(spark, lake.root, topic, stats)
    assert first.passed, first.message
    assert f"{topic}: 0 records read = landed" in first.message

    # The platform's asset run again with nothing new since its last landing.
    bronze = _asset("bronze_playtime")
    lake.run([bronze])
    again = lake.run([bronze])
    (materialization,) = again.asset_materializations_for_node("bronze_playtime")
    assert materialization.metadata["rows_landed"].value == 0
    assert (
        f"{sources.PLAYTIME.topic}: 0 records read = landed"
        in _checks(again, "bronze_playtime")[CHECK_OFFSETS]
    )

    # A day bronze holds no rows for builds empty and passes.
    silver = lake.run([_asset("fact_playtime")], DAY_NOTHING)
    assert lake.rows(FACT_PLAYTIME, DAY_NOTHING) == []
    assert "quiet day" in _checks(silver, "fact_playtime")[CHECK_RECONCILE]


def test_a_written_file_that_breaks_the_contract_still_fails_zero_rows_or_not(
    spark: SparkSession, quiet_lake: QuietLake
) -> None:
    root = quiet_lake.root
    empty = schema_outcome(spark, FACT_NEWS, root)
    assert empty.passed
    assert empty.message == f"fact_news: {NO_ROWS_YET} (no data files at {FACT_NEWS.path(root)})"

    # A zero-row file is still a file: its schema is held to the contract.
    wrong = spark.createDataFrame([], spark_schema(DIM_APP)).withColumn("price_cents", F.lit("free"))
    wrong.write.mode("overwrite").parquet(DIM_APP.path(root))
    broken = schema_outcome(spark, DIM_APP, root)
    assert not broken.passed
    assert "price_cents: string (contract bigint)" in broken.message

    # A day with rows but a retyped column: the table's schema check fails on every day's build, a
    # quiet day's included (that day's own partition is empty, the table's files are still checked).
    schema = spark_schema(FACT_NEWS)
    given: dict[str, Any] = {
        "event_id": "e1",
        "gid": "1",
        "appid": 1,
        "word_count": 3,
        "published_at": at("2026-10-30T12:00"),
        "dt": DAY_BAD_FILE,
    }
    row = {f.name: given.get(f.name) for f in schema.fields}
    frame = spark.createDataFrame([tuple(row[f.name] for f in schema.fields)], schema)
    frame = frame.withColumn("word_count", F.col("word_count").cast("string"))
    frame.write.mode("overwrite").partitionBy("dt").parquet(FACT_NEWS.path(root))
    retyped = schema_outcome(spark, FACT_NEWS, root)
    assert not retyped.passed
    assert "word_count: string (contract int)" in retyped.message

    result = dg.materialize(
        [_asset("fact_news")],
        resources=quiet_lake.resources,
        partition_key=DAY_NOTHING.isoformat(),
        raise_on_error=False,
    )
    failed = {e.check_name: e.description for e in result.get_asset_check_evaluations() if not e.passed}
    assert set(failed) == {CHECK_SCHEMA}
    assert "word_count: string (contract int)" in str(failed[CHECK_SCHEMA])
