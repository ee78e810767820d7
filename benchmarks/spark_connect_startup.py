"""Spark Connect vs today's in-process sessions: what a run pays for Spark before its first row.

Issue #17, item 3, asks for a long-running Spark Connect server that runs attach to instead of
starting their own driver, measured against today's in-process sessions before it becomes the
default. This measures exactly that trade, in one run on this machine:

- in-process (today): each run is a fresh Python process that starts a `local[2]` driver JVM with
  the platform's session settings (`streaming/spark_session.py`), then does a day-sized piece of
  work (read a day of bronze-like Parquet, keep one row per event, aggregate per app, write
  Parquet, count it back), then stops;
- Connect: one Spark Connect server (`org.apache.spark.sql.connect.service.SparkConnectServer`,
  `local[2]`, the same driver memory, gRPC bound to 127.0.0.1 on a free port) started once and
  kept; each run is a fresh Python process that attaches (`SparkSession.builder.remote`) and does
  the same work.

Per mode: the p50 and max of a run's wall time (process start to exit), of the session start
alone, and of the work alone, the ratio Connect / in-process, and the peak RSS of the JVMs (each
in-process driver; the Connect server over all runs). Spark Connect's Python client (pandas,
grpcio-status) is a dependency of the project (`pyspark[connect]`).

`--assets` times the platform's real steps instead: a day of `fact_player_counts` (bronze
player-count rows for `--apps` apps written as `steam-platform history` writes them) and then
`mart_game_daily`, each step in a fresh process as Dagster's multiprocess executor runs it, through
the `pyspark` resource: in-process (today) or attached to the local stack's supervised Connect
server (`stack up --spark-connect`, `STEAM_SPARK_REMOTE`), interleaved, on a stack of its own
(s3, the connector jars, the Connect server) in a temporary folder that is removed at the end.

    .venv/bin/python benchmarks/spark_connect_startup.py [--runs 5] [--rows 200000] [--json FILE]
    .venv/bin/python benchmarks/spark_connect_startup.py --assets [--runs 3] [--apps 100] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
DRIVER_MEMORY = "1g"

#: One run: a fresh process that starts (or attaches to) Spark and does a day's piece of work.
RUN_SCRIPT = r"""
import json, sys, time
t0 = time.monotonic()
mode, data, out = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, sys.argv[4])
if mode == "inprocess":
    from streaming.spark_session import build_spark_session
    spark = build_spark_session("connect-benchmark")
else:
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.remote(mode).getOrCreate()
from pyspark.sql import functions as F
from pyspark.sql.window import Window
t1 = time.monotonic()
rows = spark.read.parquet(data)
first = Window.partitionBy("event_id").orderBy("observed_at")
kept = rows.withColumn("_n", F.row_number().over(first)).where("_n = 1").drop("_n")
daily = kept.groupBy("appid").agg(F.max("players").alias("peak"), F.avg("players").alias("avg"))
daily.write.mode("overwrite").parquet(out)
n = spark.read.parquet(out).count()
t2 = time.monotonic()
if mode == "inprocess":
    spark.stop()
print(json.dumps({"session_s": t1 - t0, "work_s": t2 - t1, "apps": n}))
"""


#: One step of a Dagster run: a fresh process that materialises one asset for one day.
STEP_SCRIPT = r"""
import json, sys, time
t0 = time.monotonic()
asset, remote, env_path, bucket, day = sys.argv[1:6]
import dagster as dg
from steam_platform.assets.marts.assets import mart_game_daily
from steam_platform.assets.warehouse.assets import fact_assets
from steam_platform.resources.s3 import S3Resource
from steam_platform.resources.spark import build_pyspark_resource
env = json.load(open(env_path))
s3 = S3Resource(
    endpoint_url=env["S3_ENDPOINT_URL"], region=env["AWS_REGION"], bucket=bucket,
    access_key_id=env["AWS_ACCESS_KEY_ID"], secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
)
pyspark = build_pyspark_resource(s3, jars=env["STEAM_SPARK_JARS"].split(":"), remote=remote or None)
chosen = [a for a in [*fact_assets, mart_game_daily] if a.key.to_user_string() == asset]
t1 = time.monotonic()
result = dg.materialize(chosen, resources={"s3": s3, "pyspark": pyspark}, partition_key=day)
assert result.success
t2 = time.monotonic()
from pyspark import SparkContext
print(json.dumps({"import_s": t1 - t0, "step_s": t2 - t1, "jvm": SparkContext._gateway is not None}))
"""
STEPS = ("fact_player_counts", "mart_game_daily")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_day(folder: Path, rows: int) -> Path:
    """A day of bronze-like rows (event id, app, time, players) with 1 % duplicates, as Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = [f"e{i % (rows - rows // 100)}" for i in range(rows)]
    table = pa.table(
        {
            "event_id": ids,
            "appid": [i % 1000 for i in range(rows)],
            "observed_at": pa.array([1_700_000_000 + i for i in range(rows)], pa.int64()).cast(
                pa.timestamp("s", tz="UTC")
            ),
            "players": [i % 5000 for i in range(rows)],
        }
    )
    path = folder / "day"
    path.mkdir()
    pq.write_table(table, path / "part-0.parquet")
    return path


class PeakRss:
    """Samples a process tree's summed RSS every 0.2 s in a thread; `peak` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.peak = 0
        self._pid = pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                root = psutil.Process(self._pid)
                procs = [root, *root.children(recursive=True)]
                total = 0
                for p in procs:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        continue
                self.peak = max(self.peak, total)
            except psutil.Error:
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(5)
        return self.peak


def one_run(mode: str, data: Path, out: Path) -> dict[str, float]:
    """Run RUN_SCRIPT in a fresh interpreter; its timings, wall time and peak RSS."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_SCRIPT, mode, str(data), str(out), str(REPO)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    rss = PeakRss(proc.pid)
    stdout, _ = proc.communicate(timeout=600)
    peak = rss.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} run failed (exit {proc.returncode})")
    result = json.loads(stdout.strip().splitlines()[-1])
    return {**result, "wall_s": time.monotonic() - started, "peak_rss_mb": peak / 2**20}


def start_connect_server(port: int, log: Path) -> subprocess.Popen[bytes]:
    """The Connect server as a child (own process group), ready once its gRPC port answers."""
    import pyspark

    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    argv = [
        str(submit),
        *("--class", SERVER_CLASS, "--master", "local[2]", "--driver-memory", DRIVER_MEMORY),
        *("--conf", "spark.connect.grpc.binding.address=127.0.0.1"),
        *("--conf", f"spark.connect.grpc.binding.port={port}"),
        *("--conf", "spark.ui.enabled=false", "--conf", "spark.driver.bindAddress=127.0.0.1"),
        *("--conf", "spark.sql.shuffle.partitions=4"),
        "spark-internal",
    ]
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    with open(log, "wb") as out:
        server = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the Connect server exited ({server.returncode}); see {log}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return server
        time.sleep(0.5)
    server.kill()
    raise RuntimeError(f"the Connect server did not listen within 180 s; see {log}")


def summary(runs: list[dict[str, float]]) -> dict[str, float]:
    return {
        f"{key}_{stat}": round(fn([r[key] for r in runs]), 2)
        for key in ("wall_s", "session_s", "work_s")
        for stat, fn in (("p50", statistics.median), ("max", max))
    } | {"peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs))}


def asset_run(remote: str, env_file: Path, bucket: str, day: str) -> dict[str, float]:
    """The fact, then the mart, each step a fresh process; wall times and peak RSS of the steps."""
    run: dict[str, float] = {"wall_s": 0.0, "step_s": 0.0, "peak_rss_mb": 0.0}
    for asset in STEPS:
        started = time.monotonic()
        argv = [sys.executable, "-c", STEP_SCRIPT, asset, remote, str(env_file), bucket, day]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)
        rss = PeakRss(proc.pid)
        stdout, _ = proc.communicate(timeout=900)
        peak = rss.stop()
        if proc.returncode != 0:
            raise RuntimeError(f"{asset} ({remote or 'in-process'}) failed (exit {proc.returncode})")
        result = json.loads(stdout.strip().splitlines()[-1])
        if result["jvm"] == bool(remote):  # a Connect step must not start a driver; in-process must
            raise RuntimeError(f"{asset}: expected {'no ' if remote else ''}driver JVM in the step")
        run["wall_s"] += time.monotonic() - started
        run["step_s"] += result["step_s"]
        run["peak_rss_mb"] = max(run["peak_rss_mb"], peak / 2**20)
    return run


def main_assets(runs: int, apps: int, out: Path | None) -> int:
    """`--assets`: the platform's fact + mart steps for a day, in-process vs on the Connect server."""
    from datetime import UTC, date, datetime, timedelta

    import pyarrow.fs as pafs

    from steam_devstack.history.bronze_files import write_day as write_bronze_day
    from steam_devstack.history.generate import player_counts_day
    from steam_devstack.history.plan import HistoryPlan, HistoryWorld
    from steam_devstack.services.registry import SPARK_CONNECT
    from steam_devstack.services.s3 import S3Service
    from steam_devstack.stack import LocalStack
    from steam_platform.core import sources

    work = Path(tempfile.mkdtemp(prefix="connect-assets-bench-"))
    stack = LocalStack(
        work / "stack", only=["s3", "spark", SPARK_CONNECT], spark_connect=True, prefer_default_ports=False
    )
    try:
        stack_started = time.monotonic()
        env = stack.up()
        server_ready_s = time.monotonic() - stack_started
        env_file = work / "env.json"
        env_file.touch(0o600)
        env_file.write_text(json.dumps(env))
        day = date.today() - timedelta(days=2)
        plan = HistoryPlan(days=1, apps=apps, end_date=day + timedelta(days=1))
        table = player_counts_day(HistoryWorld(plan), day, datetime.now(UTC))
        s3 = next(svc for svc in stack.services if isinstance(svc, S3Service))
        fs = pafs.S3FileSystem(
            access_key=env["AWS_ACCESS_KEY_ID"], secret_key=env["AWS_SECRET_ACCESS_KEY"],
            endpoint_override=s3.url.split("://", 1)[1], scheme="http", region=env["AWS_REGION"],
        )  # fmt: skip
        bucket = env["LAKE_BUCKET"]
        write_bronze_day(fs, f"{bucket}/lake", sources.PLAYER_COUNTS.topic, day, table)
        supervisor = next(svc for svc in stack.services if svc.name == SPARK_CONNECT).process().pid()
        server_rss = PeakRss(supervisor or 0)
        results: dict[str, list[dict[str, float]]] = {"inprocess": [], "connect": []}
        for i in range(runs):
            results["inprocess"].append(asset_run("", env_file, bucket, day.isoformat()))
            results["connect"].append(asset_run(env["STEAM_SPARK_REMOTE"], env_file, bucket, day.isoformat()))
            print(
                f"run {i + 1}/{runs}: in-process {results['inprocess'][-1]['wall_s']:.1f} s, "
                f"connect {results['connect'][-1]['wall_s']:.1f} s",
                flush=True,
            )
        peak_server = server_rss.stop()
    finally:
        stack.down()
        import shutil

        shutil.rmtree(work, ignore_errors=True)

    def stats(rows: list[dict[str, float]]) -> dict[str, float]:
        return {
            f"{key}_{stat}": round(fn([r[key] for r in rows]), 2)
            for key in ("wall_s", "step_s")
            for stat, fn in (("p50", statistics.median), ("max", max))
        } | {"peak_rss_mb": round(max(r["peak_rss_mb"] for r in rows))}

    report = {
        "mode": "assets (fact_player_counts + mart_game_daily, one process per step)",
        "runs": runs,
        "apps": apps,
        "bronze_rows": table.num_rows,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "inprocess": stats(results["inprocess"]),
        "connect": stats(results["connect"]) | {"server_peak_rss_mb": round(peak_server / 2**20)},
        "stack_with_connect_server_ready_s": round(server_ready_s, 1),
    }
    return _publish(report, out)


def _publish(report: dict[str, Any], out: Path | None) -> int:
    """Add the Connect / in-process ratio of the p50 wall times, print the report, write it to `out`."""
    report["ratio_wall_p50_connect_over_inprocess"] = round(
        report["connect"]["wall_s_p50"] / report["inprocess"]["wall_s_p50"], 2
    )
    print(json.dumps(report, indent=2))
    if out:
        out.write_text(json.dumps(report, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--assets", action="store_true", help="time the fact + mart steps (see above)")
    parser.add_argument("--apps", type=int, default=100, help="--assets: apps in the day's bronze")
    args = parser.parse_args(argv)
    if args.assets:
        return main_assets(args.runs, args.apps, args.json)
    work = Path(tempfile.mkdtemp(prefix="connect-bench-"))
    data = write_day(work, args.rows)
    port = free_port()
    server_started = time.monotonic()
    server = start_connect_server(port, work / "connect-server.log")
    server_ready_s = time.monotonic() - server_started
    server_rss = PeakRss(server.pid)
    try:
        results: dict[str, list[dict[str, float]]] = {"inprocess": [], "connect": []}
        for i in range(args.runs):  # interleaved, so drift on the machine hits both alike
            results["inprocess"].append(one_run("inprocess", data, work / f"out-in-{i}"))
            results["connect"].append(one_run(f"sc://127.0.0.1:{port}", data, work / f"out-cn-{i}"))
            print(
                f"run {i + 1}/{args.runs}: in-process {results['inprocess'][-1]['wall_s']:.1f} s, "
                f"connect {results['connect'][-1]['wall_s']:.1f} s",
                flush=True,
            )
    finally:
        peak_server = server_rss.stop()
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    report = {
        "runs": args.runs,
        "rows": args.rows,
        "inprocess": summary(results["inprocess"]),
        "connect": summary(results["connect"]) | {"server_peak_rss_mb": round(peak_server / 2**20)},
        "connect_server_ready_s": round(server_ready_s, 1),
    }
    return _publish(report, args.json)


if __name__ == "__main__":
    sys.exit(main())
