"""A Dagster run's process that attaches to a Spark Connect server and builds a day's fact and mart.

A process of its own because PySpark picks its Connect or classic DataFrame API per process (and
the tests' process holds a classic driver). It materialises `fact_player_counts` and then
`mart_game_daily` for one day, and `dim_app` from that day on (its stored rows checkpointed
on the server), and `fact_news` (a Python UDF) for `--news-day`, into the lake in
`--bucket` with the `pyspark` resource pointed at `--remote`, every ERROR check required to pass,
and writes a JSON report: whether a driver JVM ever started in this process (it must not: the
steps ran on the server) and how long it took.

    python connect_lake_run.py --remote sc://127.0.0.1:15002 --bucket b --day 2026-10-02 \
        --news-day 2026-10-01 --env env.json --jars a.jar:b.jar --report report.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

if __name__ == "__main__":  # run as the child run process: the tests' helpers sit one folder up
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lake_support import materialize_checked, s3_for

from steam_platform.assets.marts.assets import mart_game_daily
from steam_platform.assets.warehouse.assets import dim_app, fact_assets
from steam_platform.resources.spark import build_pyspark_resource

FACT = next(a for a in fact_assets if a.key.to_user_string() == "fact_player_counts")
FACT_NEWS = next(a for a in fact_assets if a.key.to_user_string() == "fact_news")


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ("--remote", "--bucket", "--day", "--news-day", "--env", "--jars", "--report"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    stack_env = json.loads(Path(args.env).read_text())
    s3 = s3_for(stack_env, args.bucket)
    pyspark = build_pyspark_resource(s3, jars=args.jars.split(":"), remote=args.remote)
    day = date.fromisoformat(args.day)
    started = time.monotonic()
    materialize_checked([FACT], {"s3": s3, "pyspark": pyspark}, [day])
    materialize_checked([mart_game_daily], {"s3": s3, "pyspark": pyspark}, [day])
    materialize_checked([FACT_NEWS], {"s3": s3, "pyspark": pyspark}, [date.fromisoformat(args.news_day)])
    dimension = materialize_checked([dim_app], {"s3": s3, "pyspark": pyspark}, [day])
    rebuilt = dimension.asset_materializations_for_node("dim_app")[0].metadata["rebuilt"].value
    from pyspark import SparkContext
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    # Where the server's Python workers import PySpark from (its installed package, not a zip).
    spark = SparkSession.builder.remote(args.remote).getOrCreate()
    worker_pyspark = F.udf(lambda _: __import__("pyspark").__file__, "string")  # after the session
    where = spark.range(1).select(worker_pyspark("id").alias("at")).first()

    report = {
        # No driver JVM in this process: every Spark step ran on the Connect server.
        "jvm_started": SparkContext._gateway is not None,
        "seconds": round(time.monotonic() - started, 1),
        "dim_app_rebuilt": rebuilt,
        "worker_pyspark": where["at"] if where else None,
    }
    Path(args.report).write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
