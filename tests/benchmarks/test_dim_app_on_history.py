"""Smoke test of `benchmarks/dim_app_on_history.py` on a few days of a few apps (the benchmark
itself runs a year of 1,000 apps): history's store details land in both lakes' bronze layout, and
every daily run rebuilds from its day, passes the blocking check and equals the full rebuild."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
from pyspark.sql import SparkSession

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from dim_app_on_history import measure, write_history

from steam_devstack.history.plan import HistoryPlan, HistoryWorld
from steam_platform.core import sources
from streaming.lake_paths import bronze_path


def test_daily_runs_on_both_lakes_equal_their_full_rebuilds(
    spark_session: SparkSession, tmp_path: Path
) -> None:
    plan = HistoryPlan(days=4, apps=6, end_date=date(2026, 10, 5))
    days = plan.day_list()
    lakes = {"year": (tmp_path / "long", days), "week": (tmp_path / "short", days[-2:])}
    rows = write_history(HistoryWorld(plan), lakes)
    assert rows["year"] == 2 * rows["week"] > 0  # one snapshot per listed app and day
    stored = pq.read_table(bronze_path(str(tmp_path / "long"), sources.APPS.topic)).num_rows
    assert stored == rows["year"]

    roots = {name: f"file://{path}" for name, (path, _) in lakes.items()}
    timings = measure(spark_session, roots, days[-1], repeat=1, warm_up=False)
    for name, timing in timings.items():
        assert timing.daily_equals_full, name
        assert len(timing.daily_runs_s) == 1 and timing.full_rebuild_s > 0, timing
        assert timing.versions >= 6, timing  # at least one version per app
