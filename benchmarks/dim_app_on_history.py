"""A day's `dim_app` run on a year of app history against the same run on a week (issue #17, item 2).

`dim_app` (the app dimension, SCD type 2) used to be rebuilt from all app bronze every day: its cost
grew with the lake's age. A run now rebuilds from its first day on, seeded by the stored dimension
(`steam_platform/assets/warehouse/app_dimension.py`). This measures what a daily run costs on a
lake holding `--days` days of app details against one holding the last `--short-days` of them, in
the same process and Spark session, the variants taking turns:

- both lakes hold the store details `steam-platform history` generates (`app_details_day`: one
  snapshot per listed app and day, prices on sale, genres and publishers changing) and the store
  catalogue's entry of every app every day, as `app_catalog` produces it (its id is the app and
  its last change, so an unchanged app's entry recurs daily with the same id; each app changes
  every `CATALOGUE_CHANGE_DAYS` days), written straight into bronze's layout on the local disk (the
  Spark work is the subject, not S3);
- per round and lake, a rebuild from all bronze (the old way, every day) and then a run of the
  newest day as the automation asks for it (the new way), each writing the dimension and running
  its blocking check as the asset does; `--repeat` rounds, the lakes taking turns.

Reported: seconds per run (medians, after one untimed warm-up of each kind), the ratio year / week
of the daily run (flat is ~1x), the full rebuild's cost on the year for comparison, and whether
every daily run's rows equal the full rebuild's.

    .venv/bin/python benchmarks/dim_app_on_history.py --apps 1000 --days 365 --short-days 7 \
        --repeat 3 [--json dim-app.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from datetime import time as clock
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
from pyspark.sql import SparkSession

if __name__ == "__main__":  # run as a script: the platform's packages sit one folder up
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from steam_devstack.history.bronze_files import BRONZE_FILE_SCHEMA, day_file, write_day
from steam_devstack.history.generate import app_details_day
from steam_devstack.history.plan import HistoryPlan, HistoryWorld
from steam_platform.assets.warehouse.app_dimension import plan_dim_app
from steam_platform.assets.warehouse.quality import CHECK_ONE_CURRENT, dim_app_outcomes
from steam_platform.assets.warehouse.tables import DIM_APP
from steam_platform.core import sources
from steam_platform.events.envelope import envelope
from steam_platform.resources.kafka import OutgoingMessage
from steam_platform.resources.steam import EP_APP_LIST, PATHS
from streaming.spark_session import build_spark_session

_TS = pa.timestamp("us", tz="UTC")
#: How often (days) an app's catalogue entry changes (a new `last_modified`, so a new event id).
CATALOGUE_CHANGE_DAYS = 60
CATALOGUE_SOURCE = PATHS[EP_APP_LIST].rstrip("/")


def catalogue_day(world: HistoryWorld, day: date) -> list[OutgoingMessage]:
    """Every app's catalogue entry on `day`, as `app_catalog` produces it (same id while unchanged)."""
    observed = datetime.combine(day, clock(0, 5), UTC)
    messages = []
    for app in world.apps:
        # Each app changes on its own days: the offset spreads the changes over the period.
        period = (day.toordinal() + app.appid) // CATALOGUE_CHANGE_DAYS
        changed = datetime.fromordinal(period * CATALOGUE_CHANGE_DAYS - app.appid)
        last_modified = int(changed.replace(tzinfo=UTC).timestamp())
        payload = {"appid": app.appid, "name": f"{app.name} ({period})", "last_modified": last_modified}
        event = envelope(
            source=CATALOGUE_SOURCE,
            natural_key=(app.appid, last_modified, None),
            observed_at=observed,
            partition_key=day.isoformat(),
            payload=payload,
        )
        messages.append(OutgoingMessage(sources.APPS.topic, str(app.appid), event.to_json_bytes()))
    return messages


@dataclass(frozen=True)
class LakeTiming:
    """One lake's figures: its days, the full rebuild and the daily runs (seconds)."""

    days: int
    bronze_rows: int
    versions: int
    full_rebuild_s: float
    daily_runs_s: list[float]
    daily_equals_full: bool

    @property
    def daily_median_s(self) -> float:
        return statistics.median(self.daily_runs_s)


def bronze_table(messages: list[OutgoingMessage]) -> pa.Table:
    """Bronze rows (history's file layout: no Kafka position) of enveloped app events."""
    envs = [json.loads(m.value) for m in messages]
    observed = [datetime.fromisoformat(e["observed_at"]).astimezone(UTC) for e in envs]
    rows = len(envs)
    return pa.table(
        {
            "event_id": [e["event_id"] for e in envs],
            "schema_version": pa.array([e["schema_version"] for e in envs], pa.int32()),
            "source": [e["source"] for e in envs],
            "observed_at": pa.array(observed, _TS),
            "partition_key": [e["partition_key"] for e in envs],
            "payload": [json.dumps(e["payload"], separators=(",", ":")) for e in envs],
            "kafka_topic": pa.repeat(sources.APPS.topic, rows),
            "kafka_partition": pa.nulls(rows, pa.int32()),
            "kafka_offset": pa.nulls(rows, pa.int64()),
            "kafka_timestamp": pa.nulls(rows, _TS),
            "kafka_key": [m.key for m in messages],
            "ingested_at": pa.array(observed, _TS),
        },
        schema=BRONZE_FILE_SCHEMA,
    )


def write_history(world: HistoryWorld, lakes: dict[str, tuple[Path, list[date]]]) -> dict[str, int]:
    """Each day's details into every lake that holds that day; rows written per lake."""
    fs = pafs.LocalFileSystem()
    rows = dict.fromkeys(lakes, 0)
    for day in world.plan.day_list():
        holders = [name for name, (_, days) in lakes.items() if day in days]
        if not holders:
            continue
        table = bronze_table(catalogue_day(world, day) + app_details_day(world, day))
        for name in holders:
            lake = str(lakes[name][0])
            fs.create_dir(day_file(lake, sources.APPS.topic, day).rsplit("/", 1)[0], recursive=True)
            write_day(fs, lake, sources.APPS.topic, day, table)
            rows[name] += table.num_rows
    return rows


def run_once(spark: SparkSession, root: str, day: date, *, full: bool) -> tuple[float, int]:
    """One `dim_app` run for `day` as the asset does it (plan, write, blocking check); seconds, rows."""
    started = time.perf_counter()
    build = plan_dim_app(spark, root, day, full_rebuild=full)
    if full != (build.since is None):
        wanted = "full" if full else "daily"
        raise RuntimeError(f"expected a {wanted} rebuild, got {build.scope}: {build.reason}")
    written = build.write(spark, root)
    outcome = dim_app_outcomes(spark, root, build.apps)[CHECK_ONE_CURRENT]
    if not outcome.passed:
        raise RuntimeError(outcome.message)
    return time.perf_counter() - started, written


def stored_rows(spark: SparkSession, root: str) -> list[tuple[Any, ...]]:
    """The stored dimension's rows, sorted (to compare builds)."""
    return sorted(tuple(r) for r in spark.read.parquet(DIM_APP.path(root)).collect())


def measure(
    spark: SparkSession, roots: dict[str, str], last_day: date, repeat: int, *, warm_up: bool = True
) -> dict[str, LakeTiming]:
    """`repeat` rounds of a full rebuild and a daily run of `last_day` per lake, the lakes taking
    turns (order flipped every round), after one untimed warm-up of each kind (unless not asked)."""
    if warm_up:
        warm = next(reversed(roots.values()))
        run_once(spark, warm, last_day, full=True)
        run_once(spark, warm, last_day, full=False)
    full: dict[str, list[float]] = {name: [] for name in roots}
    daily: dict[str, list[float]] = {name: [] for name in roots}
    truth: dict[str, list[tuple[Any, ...]]] = {}
    equal = dict.fromkeys(roots, True)
    for round_ in range(repeat):
        for name in list(roots) if round_ % 2 == 0 else list(roots)[::-1]:
            seconds, _ = run_once(spark, roots[name], last_day, full=True)
            full[name].append(seconds)
            truth.setdefault(name, stored_rows(spark, roots[name]))
            seconds, _ = run_once(spark, roots[name], last_day, full=False)
            daily[name].append(seconds)
            equal[name] = equal[name] and stored_rows(spark, roots[name]) == truth[name]
    return {
        name: LakeTiming(0, 0, len(truth[name]), statistics.median(full[name]), daily[name], equal[name])
        for name in roots
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--short-days", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--end-date", type=date.fromisoformat, default=date(2026, 12, 4))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    plan = HistoryPlan(days=args.days, apps=args.apps, end_date=args.end_date)
    days = plan.day_list()
    work = Path(tempfile.mkdtemp(prefix="dim-app-bench-"))
    try:
        lakes = {"year": (work / "year", days), "week": (work / "week", days[-args.short_days :])}
        started = time.perf_counter()
        rows = write_history(HistoryWorld(plan), lakes)
        print(f"history written in {time.perf_counter() - started:.0f} s: {rows} bronze rows")
        spark = build_spark_session("dim-app-on-history")
        roots = {name: f"file://{path}" for name, (path, _) in lakes.items()}
        timings = measure(spark, roots, days[-1], args.repeat)
        result: dict[str, Any] = {}
        for name, timing in timings.items():
            figures = asdict(timing) | {"days": len(lakes[name][1]), "bronze_rows": rows[name]}
            result[name] = figures | {"daily_median_s": round(timing.daily_median_s, 2)}
            print(
                f"{name}: {figures['days']} days, {rows[name]} bronze rows, {timing.versions} versions; "
                f"full rebuild {timing.full_rebuild_s:.2f} s; daily run median {timing.daily_median_s:.2f} s "
                f"({', '.join(f'{s:.2f}' for s in timing.daily_runs_s)}); "
                f"equals full: {timing.daily_equals_full}"
            )
        ratio = timings["year"].daily_median_s / timings["week"].daily_median_s
        result["daily_year_over_week"] = round(ratio, 3)
        year = timings["year"]
        result["year_full_over_daily"] = round(year.full_rebuild_s / year.daily_median_s, 2)
        print(f"daily run, year / week: {ratio:.3f}x; on the year, full rebuild / daily run: "
              f"{result['year_full_over_daily']}x")  # fmt: skip
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
        return 0 if all(t.daily_equals_full for t in timings.values()) else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
