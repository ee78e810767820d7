"""The lake layers materialised for some days, in a run's process: in the tests' process or as a child.

`build(resources, days)` materialises every bronze asset, then silver over the days, then the marts
over the days, each layer in ONE run over the range of days (as a UI backfill or the lake sensor's
rebuild of several days runs them; `tests/lake/test_lake_pipeline.py` runs them day by day), each
run required to succeed with every check passing.

As a script it is a Dagster run's process whose Spark session is the driver of an application on
the stack's standalone cluster (client mode), with the resources the platform's local wiring
builds (`build_resources`: the stack's env file, `SPARK_MASTER` and `LAKE_BUCKET` from the
environment). A process of its own, because one Python process holds one SparkContext and the
tests' own session runs `local[2]`. After the build it writes a JSON report (the application's
executors and environment as Spark's UI serves them, what a Python task on the executors saw),
prints READY and holds its application open until a line arrives on stdin (or `--hold-s` passed), so
the test can inspect the live executors' processes.

    STEAM_STACK_DIR=... SPARK_MASTER=spark://... LAKE_BUCKET=... python cluster_lake_run.py \
        --days 2026-11-16,2026-11-17 --report report.json
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as the child run process: the tests' helpers sit one folder up
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lake_support import materialize_checked

from steam_platform.assets.lake.bronze import bronze_assets
from steam_platform.assets.marts.assets import (
    mart_game_daily,
    mart_news_impact,
    mart_player_count_gaps,
    mart_top_games,
)
from steam_platform.assets.warehouse.assets import dim_app, fact_assets

SILVER = [*fact_assets, dim_app]
MARTS = [mart_game_daily, mart_news_impact, mart_top_games, mart_player_count_gaps]
#: Every wait of the script is bounded.
UI_WAIT_S = 60


def build(resources: Mapping[str, Any], days: Sequence[date]) -> None:
    """Bronze (everything in the topics), then silver and the marts over `days`, one run per layer."""
    materialize_checked(bronze_assets, resources)
    materialize_checked(SILVER, resources, days)
    materialize_checked(MARTS, resources, days)


def _executor_probe(_: Iterator[Any]) -> Iterator[dict[str, Any]]:
    """Runs in a Python worker of an executor: which interpreter, and does `streaming` import."""
    import streaming.news_text

    yield {"python": sys.executable, "pid": os.getpid(), "streaming": streaming.news_text.__file__}


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def _report(spark: Any) -> dict[str, Any]:
    """What the live application shows: executors, environment tab, a probe task per executor core."""
    sc = spark.sparkContext
    probe = sc.parallelize(range(4), 4).mapPartitions(_executor_probe).collect()
    # Listing a file posts an environment update: Spark's UI then lists the Hadoop properties as they
    # are now, after the resource put the S3 keys into them.
    marker = Path(tempfile.mkdtemp(prefix="cluster-run-")) / "environment-update.txt"
    marker.write_text("x")
    sc.addFile(str(marker))
    api = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}"
    deadline = time.monotonic() + UI_WAIT_S
    while True:
        environment = _get(f"{api}/environment")
        if any(key == "fs.s3a.secret.key" for key, _ in environment.get("hadoopProperties", [])):
            break
        assert time.monotonic() < deadline, "the environment update did not reach the UI"
        time.sleep(0.5)
    return {
        "master": sc.master,
        "app_id": sc.applicationId,
        "driver_pid": os.getpid(),
        "executors": _get(f"{api}/allexecutors"),
        "environment": environment,
        "probe": probe,
    }


def main(argv: Sequence[str] | None = None) -> int:
    from pyspark.sql import SparkSession

    from steam_platform.core.settings import Environment
    from steam_platform.resources.spark import LakePySparkResource
    from steam_platform.resources.wiring import build_resources

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", required=True, help="comma-separated ISO days")
    parser.add_argument("--report", required=True, type=Path)
    parser.add_argument("--hold-s", type=float, default=600.0)
    args = parser.parse_args(argv)
    days = [date.fromisoformat(d) for d in args.days.split(",")]

    wired = build_resources(Environment.LOCAL)
    pyspark = wired["pyspark"]
    # The platform keeps Spark's UI off; on here (loopback only, any port) to read its environment tab.
    ui = {"spark.ui.enabled": "true", "spark.ui.port": "0"}
    pyspark = LakePySparkResource(spark_config={**pyspark.spark_config, **ui}, s3=pyspark.s3)
    build({"s3": wired["s3"], "kafka": wired["kafka"], "pyspark": pyspark}, days)

    spark = SparkSession.builder.getOrCreate()  # the session the runs used (still running)
    try:
        report = _report(spark)
        report["spark_config"] = dict(pyspark.spark_config)
        tmp = args.report.with_name(args.report.name + ".tmp")
        tmp.write_text(json.dumps(report))
        tmp.replace(args.report)
        print("READY", flush=True)
        select.select([sys.stdin], [], [], args.hold_s)
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
