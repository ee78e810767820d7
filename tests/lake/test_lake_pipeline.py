"""Bronze -> silver -> marts through the Dagster assets on real Kafka, S3 and Spark.

A hand-built three-day dataset (tests/lake_dataset.py) is produced to the platform's topics and
landed in a fresh bucket, silver and marts each in one run over the three days (as a backfill or
the lake sensor's rebuild of several days runs them); every mart value is compared with one
computed in plain Python. A second lake built day by day in reverse order (single-day runs, newest
first) must hold the same rows, and re-running a partition must change nothing.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import lake_dataset as ds
import pytest
from lake_support import materialize_checked, produce, s3_for
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from steam_devstack.health import poll
from steam_devstack.process import process_tree
from steam_devstack.services.spark import connector_jars
from steam_devstack.services.spark_connect import SparkConnectService
from steam_platform.assets.lake.bronze import bronze_assets
from steam_platform.assets.marts.assets import (
    mart_game_daily,
    mart_news_impact,
    mart_player_count_gaps,
    mart_top_games,
)
from steam_platform.assets.marts.gap_summary import CHECK_NO_GAPS, GAPS_BY_HOUR
from steam_platform.assets.marts.tables import (
    MART_GAME_DAILY,
    MART_NEWS_IMPACT,
    MART_PLAYER_COUNT_GAPS,
    MART_TABLES,
    MART_TOP_GAMES,
)
from steam_platform.assets.warehouse.app_dimension import plan_dim_app
from steam_platform.assets.warehouse.assets import dim_app, fact_assets
from steam_platform.assets.warehouse.tables import (
    DIM_APP,
    FACT_NEWS,
    FACT_PLAYER_COUNTS,
    FACT_PLAYTIME,
    WAREHOUSE_TABLES,
)
from steam_platform.core import sources
from steam_platform.core.cadence import poll_interval_minutes
from steam_platform.core.contracts import Table
from steam_platform.core.spark_schemas import written_schema
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.s3 import S3Resource
from steam_platform.resources.spark import LakePySparkResource
from streaming import warehouse
from streaming.envelope_schema import BRONZE_SCHEMA
from streaming.hadoop_fs import parquet_stats
from streaming.lake_paths import bronze_path
from streaming.tables_io import read_table

pytestmark = pytest.mark.integration

CONNECT_RUN = Path(__file__).with_name("connect_lake_run.py")
SILVER = [*fact_assets, dim_app]
MARTS = [mart_game_daily, mart_news_impact, mart_top_games, mart_player_count_gaps]
TABLES = (*WAREHOUSE_TABLES, *MART_TABLES)


class Lake:
    """Materialises the lake's assets into one bucket and reads its tables back."""

    def __init__(
        self, s3: S3Resource, kafka: KafkaResource, pyspark: LakePySparkResource, spark: SparkSession
    ):
        self.s3, self.spark = s3, spark
        self.resources = {"s3": s3, "kafka": kafka, "pyspark": pyspark}
        self.marts_run: dg.ExecuteInProcessResult | None = None

    def run(self, assets: list[Any], *days: date) -> dg.ExecuteInProcessResult:
        """Materialise `assets` (for `days`: one day, or a range in one run); checks must pass."""
        return materialize_checked(assets, self.resources, days)

    def build(self, days: tuple[date, ...]) -> None:
        """Bronze, then silver and the marts over `days`, one run per layer (a backfill's runs)."""
        self.run(bronze_assets)
        self.run(SILVER, *days)
        self.marts_run = self.run(MARTS, *days)

    def rows(self, table: Table, apps: tuple[int, ...] = ds.APPS) -> list[dict[str, Any]]:
        frame = read_table(self.spark, table.path(self.s3.lake_root()), written_schema(table))
        frame = frame.where(frame.appid.isin(list(apps)))
        drop = {"contents_text"} if table is FACT_NEWS else set()
        return sorted(
            ({k: v for k, v in r.asDict().items() if k not in drop} for r in frame.collect()), key=repr
        )


@pytest.fixture(scope="module")
def lake(
    spark: SparkSession,
    lake_kafka: KafkaResource,
    lake_s3: S3Resource,
    stack_env: dict[str, str],
    pyspark_resource: LakePySparkResource,
) -> Lake:
    bucket = f"lake-pipeline-{uuid.uuid4().hex[:10]}"
    lake_s3.client().create_bucket(Bucket=bucket)
    produce(lake_kafka, ds.messages())
    built = Lake(s3_for(stack_env, bucket), lake_kafka, pyspark_resource, spark)
    built.build(ds.DAYS)
    return built


def test_bronze_metadata_reports_offsets_files_and_rows(lake: Lake) -> None:
    result = lake.run(bronze_assets)  # nothing new since the build: an empty landing, checks still pass
    meta = result.asset_materializations_for_node("bronze_news")[0].metadata
    assert meta["rows_landed"].value == 0
    assert {"kafka_offsets", "files_written", "bytes_written", "duration_s", "rows_quarantined"} <= set(meta)
    assert meta["envelope_parser"].value == "jvm"  # bronze's own parser, from the connector jars
    news = read_table(lake.spark, bronze_path(lake.s3.lake_root(), sources.NEWS.topic), BRONZE_SCHEMA)
    ours = news.where(F.get_json_object("payload", "$.appid").cast("long").isin(list(ds.APPS)))
    assert ours.count() == len(ds.posts()) + 1  # the re-observed post is landed twice, deduped in silver
    offsets = meta["kafka_offsets"].value
    assert isinstance(offsets, dict)


def test_mart_game_daily_matches_plain_python(lake: Lake) -> None:
    for day in ds.DAYS:
        got = {r["appid"]: r for r in lake.rows(MART_GAME_DAILY) if r["dt"] == day}
        want = ds.expected_game_daily(day)
        assert set(got) == set(want)
        for appid, expected in want.items():
            row = got[appid]
            for column, value in expected.items():
                if isinstance(value, float):
                    assert row[column] == pytest.approx(value), (day, appid, column)
                else:
                    assert row[column] == value, (day, appid, column)


def test_mart_news_impact_windows_cross_midnight(lake: Lake) -> None:
    rows = {r["gid"]: r for r in lake.rows(MART_NEWS_IMPACT)}
    want = {gid: row for day in ds.DAYS for gid, row in ds.expected_news_impact(day).items()}
    assert set(rows) == set(want)
    # The 23:00 post's after-window and the 02:00 post's before-window reach into the other day.
    assert want["9100000000000000001"]["samples_after"] == 4  # 23:30, then 00:00, 00:30, 03:00 next day
    assert want["9100000000000000002"]["samples_before"] == 4  # 21:00, 23:30 the day before; 00:00, 00:30
    for gid, expected in want.items():
        assert rows[gid]["window_hours"] == ds.WINDOW_HOURS
        for column, value in expected.items():
            assert rows[gid][column] == (pytest.approx(value) if isinstance(value, float) else value), (
                gid,
                column,
            )


def test_mart_top_games_ranks_and_changes(lake: Lake) -> None:
    rows = lake.rows(MART_TOP_GAMES)
    for previous, day in zip((None, *ds.DAYS), ds.DAYS, strict=False):
        ranks = ds.expected_ranks(day)
        before = ds.expected_ranks(previous) if previous else {}
        got = {r["appid"]: r for r in rows if r["dt"] == day}
        assert {a: r["rank"] for a, r in got.items()} == ranks
        assert {a: r["prev_rank"] for a, r in got.items()} == {a: before.get(a) for a in ranks}
        assert {a: r["rank_change"] for a, r in got.items()} == {
            a: (before[a] - ranks[a]) if a in before else None for a in ranks
        }
        assert all(r["app_name"] == ds.NAMES[a] for a, r in got.items())


def test_missed_polls_are_recorded_per_app_and_hour_and_warned_about(lake: Lake) -> None:
    """The dataset polls every 3 hours: every other slot of its closed days is a recorded gap (a
    'no match' answer fills its slot), the run's metadata counts them and the WARN check fails."""
    interval = poll_interval_minutes()
    rows = lake.rows(MART_PLAYER_COUNT_GAPS)
    got = {
        (r["appid"], r["hour_start"].astimezone(UTC)): (
            r["expected_slots"],
            r["observed_slots"],
            r["missing_slot_times"],
        )
        for r in rows
    }
    want = {k: v for day in ds.DAYS for k, v in ds.expected_gaps(day, interval).items()}
    assert got == want
    assert {(r["is_tracked"], r["poll_interval_minutes"]) for r in rows} == {(False, interval)}
    assert lake.marts_run is not None
    (check,) = [e for e in lake.marts_run.get_asset_check_evaluations() if e.check_name == CHECK_NO_GAPS]
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.WARN)
    (meta, *_) = [
        m.metadata for m in lake.marts_run.asset_materializations_for_node("mart_player_count_gaps")
    ]
    # Every app's rows of the run (the tracked apps were never polled on these days), as the UI shows them.
    every = read_table(
        lake.spark, MART_PLAYER_COUNT_GAPS.path(lake.s3.lake_root()), written_schema(MART_PLAYER_COUNT_GAPS)
    )
    every_rows = every.collect()
    assert meta["gap_rows"].value == len(every_rows) == check.metadata["gap_rows"].value
    assert meta["missed_polls"].value == sum(r.missing_slots for r in every_rows)
    hour = datetime(2026, 10, 2, 10, tzinfo=UTC)
    in_hour = [r for r in every_rows if r.hour_start.astimezone(UTC) == hour]
    assert meta[GAPS_BY_HOUR].value[hour.isoformat()] == {
        "apps": len(in_hour),
        "missed": sum(r.missing_slots for r in in_hour),
    }


def test_silver_dedupes_and_keeps_history(lake: Lake) -> None:
    counts = lake.rows(FACT_PLAYER_COUNTS)
    assert len(counts) == len(ds.samples())  # the retried record counted once
    assert [r for r in counts if r["player_count"] is None] == [
        r for r in counts if r["appid"] == ds.GAMMA and not r["is_live"]
    ]
    news = lake.rows(FACT_NEWS)
    assert sorted(r["gid"] for r in news) == sorted(p.gid for p in ds.posts())
    late = next(r for r in news if r["gid"] == "9100000000000000003")
    assert late["dt"] == date(2026, 10, 2)  # published day, though observed on the 3rd
    text = read_table(lake.spark, FACT_NEWS.path(lake.s3.lake_root()), written_schema(FACT_NEWS))
    assert {r.contents_text for r in text.where(text.appid == ds.ALPHA).collect()} == {"Big patch & fixes"}
    assert {r["word_count"] for r in news} == {4}
    versions = [r for r in lake.rows(DIM_APP) if r["appid"] == ds.ALPHA]
    assert [
        (v["name"], v["is_current"], v["genres"], v["price_cents"])
        for v in sorted(versions, key=lambda v: v["valid_from"])
    ] == [
        ("Alpha", False, None, None),
        ("Alpha", False, "Action, RPG", 999),
        ("Alpha Remastered", True, "Action, RPG", 999),  # the catalogue refresh kept the details
    ]
    assert len(lake.rows(FACT_PLAYTIME)) == 3


def _delete_day(s3: S3Resource, table: Table, day: date) -> None:
    """Remove one day's partition of `table` from the lake's bucket."""
    prefix = f"{table.path(s3.lake_root()).split(f'{s3.bucket}/', 1)[1]}/dt={day}/"
    client = s3.client()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix).get("Contents", [])]
    assert keys
    client.delete_objects(Bucket=s3.bucket, Delete={"Objects": [{"Key": k} for k in keys]})


def _rebuilt(result: dg.ExecuteInProcessResult) -> tuple[str, str]:
    """How a run rebuilt `dim_app`: its scope and why."""
    meta = result.asset_materializations_for_node("dim_app")[0].metadata
    return str(meta["rebuilt"].value), str(meta["rebuilt_because"].value)


def test_dim_app_rebuilds_from_the_runs_first_day_and_from_all_bronze_when_it_must(lake: Lake) -> None:
    """A day's run rebuilds the dimension from that day on, seeded by the stored one and its
    catalogue ids record; with no finished dimension or record stored (no `_SUCCESS`: a write died
    half-way), files that are not the contract's, or when asked, it rebuilds from all app bronze,
    with the same rows."""
    before, day = lake.rows(DIM_APP), ds.DAYS[-1]
    assert len(before) > len(ds.APPS)  # versions, not just one row per app
    daily = lake.run([dim_app], day)
    assert _rebuilt(daily)[0] == f"from dt={day}"
    # No older day was read: the day's store details are the day's own partition.
    assert daily.asset_materializations_for_node("dim_app")[0].metadata["older_days_read_for_ids"].value == 0
    assert lake.rows(DIM_APP) == before
    # The catalogue ids record the next run reads: every catalogue id with its first observation.
    bronze = read_table(lake.spark, bronze_path(lake.s3.lake_root(), sources.APPS.topic), BRONZE_SCHEMA)
    want = sorted(tuple(r) for r in warehouse.catalogue_first_observations(bronze).collect())
    record = sorted(
        tuple(r)
        for r in lake.spark.read.parquet(f"{DIM_APP.path(lake.s3.lake_root())}_catalogue_ids").collect()
    )
    assert record == want and len(want) >= len(ds.APPS), record

    # When the stored dimension cannot seed a rebuild, the run plans one from all bronze (asked
    # here without a run; the run below shows a full rebuild's rows and metadata).
    def why_from_all_bronze() -> str:
        build = plan_dim_app(lake.spark, lake.s3.lake_root(), day, full_rebuild=False)
        assert build.since is None, build.reason
        return build.reason

    path = DIM_APP.path(lake.s3.lake_root())
    table_key = path.split(f"{lake.s3.bucket}/", 1)[1]
    for marker in (f"{table_key}/_SUCCESS", f"{table_key}_catalogue_ids/_SUCCESS"):
        lake.s3.client().delete_object(Bucket=lake.s3.bucket, Key=marker)
        assert "did not finish" in why_from_all_bronze(), marker
        lake.s3.client().put_object(Bucket=lake.s3.bucket, Key=marker, Body=b"")
    stored = read_table(lake.spark, path, written_schema(DIM_APP)).localCheckpoint()
    stored.drop("genres").write.mode("overwrite").parquet(path)  # an older contract
    why = why_from_all_bronze()
    assert "do not match the contract" in why and "genres" in why, why
    stored.write.mode("overwrite").parquet(path)

    asked = {"ops": {"dim_app": {"config": {"full_rebuild": True}}}}
    scope, why = _rebuilt(materialize_checked([dim_app], lake.resources, [day], run_config=asked))
    assert (scope, why) == ("all bronze", "rebuilt from all app bronze: asked for (full_rebuild)")
    assert lake.rows(DIM_APP) == before


def _news_text(lake: Lake, day: date) -> list[tuple[str, str, int]]:
    frame = read_table(lake.spark, FACT_NEWS.path(lake.s3.lake_root()), written_schema(FACT_NEWS))
    rows = frame.where(frame.dt == day).select("gid", "contents_text", "word_count").collect()
    return sorted((r.gid, r.contents_text, r.word_count) for r in rows)


def test_a_run_on_spark_connect_builds_the_same_fact_and_mart_and_the_server_comes_back(
    lake: Lake, spark_connect: SparkConnectService, stack_env: dict[str, str], tmp_path: Path
) -> None:
    """A run attached to the stack's Spark Connect server (no driver in its process) rebuilds a
    day of `fact_player_counts`, `fact_news` (its text UDF included) and `mart_game_daily` with the
    rows of the in-process build, and `dim_app` from that day on (its seed checkpointed on the
    server) with the same rows; the server, killed, is started again by its supervisor."""
    day, tables = ds.DAYS[1], (FACT_PLAYER_COUNTS, MART_GAME_DAILY)
    news_day = min(r["dt"] for r in lake.rows(FACT_NEWS))
    before: dict[str, list[Any]] = {t.name: [r for r in lake.rows(t) if r["dt"] == day] for t in tables}
    before[FACT_NEWS.name] = [r for r in lake.rows(FACT_NEWS) if r["dt"] == news_day]
    before["news text"] = _news_text(lake, news_day)  # the UDF's column (`rows` leaves it out)
    before[DIM_APP.name] = lake.rows(DIM_APP)
    assert all(before.values())
    for table in tables:  # gone, so only the Connect run can bring them back
        _delete_day(lake.s3, table, day)
    _delete_day(lake.s3, FACT_NEWS, news_day)
    env_file = tmp_path / "stack-env.json"
    env_file.touch(0o600)
    env_file.write_text(json.dumps(stack_env))
    report = tmp_path / "report.json"
    argv = [
        sys.executable, str(CONNECT_RUN), "--remote", spark_connect.remote, "--bucket", lake.s3.bucket,
        "--day", day.isoformat(), "--news-day", news_day.isoformat(), "--env", str(env_file),
        "--report", str(report), "--jars", ":".join(str(p) for p in connector_jars()),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    reported = json.loads(report.read_text())
    assert (reported["jvm_started"], reported["dim_app_rebuilt"]) == (False, f"from dt={day}")
    # The server's Python workers import the installed PySpark (compiled once), not Spark's zip of
    # its sources, which every new worker would compile again (`launch_spark_home`).
    assert reported["worker_pyspark"].endswith("site-packages/pyspark/__init__.py"), reported
    after: dict[str, list[Any]] = {t.name: [r for r in lake.rows(t) if r["dt"] == day] for t in tables}
    after[FACT_NEWS.name] = [r for r in lake.rows(FACT_NEWS) if r["dt"] == news_day]
    after["news text"] = _news_text(lake, news_day)
    after[DIM_APP.name] = lake.rows(DIM_APP)
    assert after == before

    supervisor = spark_connect.process().pid()
    assert supervisor is not None
    (server, *_) = [p for p in process_tree(supervisor)[1:] if p.name() == "java"]
    server.kill()
    server.wait(30)
    assert poll(spark_connect.healthy, timeout=120, interval=1.0)
    assert spark_connect.process().pid() == supervisor  # the same supervisor started a new server
    assert server.pid not in [p.pid for p in process_tree(supervisor)]
    # Its scratch (the killed server's and the new one's, after real jobs) stays private to it.
    exposed = [
        f"{stat.S_IMODE(p.lstat().st_mode):o} {p}"
        for p in [spark_connect.base, *spark_connect.base.rglob("*")]
        # A symlink's own mode means nothing (always 777): the launch view's links point at pyspark.
        if not p.is_symlink() and stat.S_IMODE(p.lstat().st_mode) & 0o077
    ]
    assert exposed == []


def test_rerun_is_idempotent_and_reverse_daily_runs_equal_the_range_run(
    lake: Lake,
    fresh_s3: Callable[[], S3Resource],
    lake_kafka: KafkaResource,
    pyspark_resource: LakePySparkResource,
) -> None:
    day = ds.DAYS[1]
    before = {t.name: lake.rows(t) for t in TABLES}
    path = f"{FACT_PLAYER_COUNTS.path(lake.s3.lake_root())}/dt={day}"
    files_before = parquet_stats(lake.spark, path)
    lake.run([*fact_assets], day)
    lake.run(MARTS, day)
    assert {t.name: lake.rows(t) for t in TABLES} == before
    assert parquet_stats(lake.spark, path).files == files_before.files  # replaced, not appended

    other = Lake(fresh_s3(), lake_kafka, pyspark_resource, lake.spark)
    other.run(bronze_assets)
    rebuilt = [_rebuilt(other.run(SILVER, d))[0] for d in reversed(ds.DAYS)]
    # The first build reads all app bronze, each later day rebuilds the dimension from itself on.
    assert rebuilt == ["all bronze", *[f"from dt={d}" for d in reversed(ds.DAYS[:-1])]]
    for d in reversed(ds.DAYS):
        other.run([mart_game_daily, mart_news_impact, mart_player_count_gaps], d)
    for d in ds.DAYS:
        other.run([mart_top_games], d)
    assert {t.name: other.rows(t) for t in TABLES} == before
