"""The lake layers on a real Spark standalone cluster (master + 2 workers), in-process and via Pipes.

In-process (client mode): a child process plays a Dagster run's process. Its resources come from
the platform's local wiring with `SPARK_MASTER` pointing at the cluster, so its Spark session is the
driver and every task runs on the two workers' executors. It materialises bronze, silver and marts
for three days of this module's own events (`cluster_dataset.py`) into a fresh bucket; the same
assets run again in the tests' own `local[2]` session into another bucket. Every record must be in
bronze exactly once, and every table equal to the `local[2]` one.

While the child's application is still up, its processes (driver, master, workers, executors and
their Python workers) are inspected: none has the S3 secret on its command line or in its
environment, the executors run the driver's interpreter, and Spark's UI (environment tab, enabled
for the test) lists the S3A keys only redacted.

Pipes: `bronze_continuous_job` launches `spark-submit --master spark://...` for a bounded time;
the job's executors run on the workers and land every event exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import cluster_dataset as cd
import dagster as dg
import pytest
from cluster_lake_run import build
from cluster_processes import AWS_KEYS, LOOPBACK, Seen, inspect_processes
from continuous_run import ContinuousRun, job_processes
from lake_support import at, bronze_event_ids, event_ids, player_count_message, produce
from pyspark.sql import DataFrame, SparkSession

import streaming.news_text
from steam_devstack.process import kill_all, process_tree
from steam_devstack.services.spark import connector_jars
from steam_devstack.services.spark_cluster import SparkClusterService, master_json
from steam_devstack.stack import LocalStack
from steam_platform.assets.marts.tables import MART_TABLES
from steam_platform.assets.warehouse.tables import (
    FACT_NEWS,
    WAREHOUSE_TABLES,
)
from steam_platform.core import sources
from steam_platform.core.spark_schemas import written_schema
from steam_platform.resources.kafka import KafkaResource, OutgoingMessage, TopicSpec
from steam_platform.resources.s3 import S3Resource
from steam_platform.resources.spark import LakePySparkResource, build_pipes_client
from streaming.envelope_schema import BRONZE_SCHEMA, QUARANTINE_SCHEMA
from streaming.lake_paths import bronze_path, quarantine_path
from streaming.tables_io import read_table

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1800)]

RUN_SCRIPT = Path(__file__).with_name("cluster_lake_run.py")
#: Bounds: the child's whole build, its exit after the inspection, the Pipes run and its first batch.
#: The submitted job runs STOP_AFTER_S from its query's start: its first batch on a busy two-core
#: machine (executors starting, fetching the jars) can take a minute, the late events need another.
BUILD_BOUND_S = 1200
EXIT_BOUND_S = 120
STOP_AFTER_S = 300
#: ... and it stops as soon as the topic stayed drained this long after its last batch.
IDLE_STOP_S = 15
RUN_BOUND_S = 600
FIRST_BATCH_WAIT_S = 300
TABLES = (*WAREHOUSE_TABLES, *MART_TABLES)
TOPICS = (sources.PLAYER_COUNTS.topic, sources.NEWS.topic, sources.APPS.topic, sources.PLAYTIME.topic)
#: Bronze columns that depend on the landing (when, which micro-batch), not on the input.
LANDING_COLUMNS = frozenset({"ingested_at", "batch_id"})


@dataclass(frozen=True)
class ClusterRun:
    """The child's lake on the cluster: its bucket, its report, the processes seen while it ran."""

    s3: S3Resource
    report: dict[str, Any]
    processes: list[Seen]


@pytest.fixture(scope="module")
def produced(lake_kafka: KafkaResource) -> list[OutgoingMessage]:
    """This module's events, in the platform's topics."""
    batch = cd.messages()
    produce(lake_kafka, batch)
    return batch


@pytest.fixture(scope="module")
def cluster_lake(
    produced: list[OutgoingMessage],
    spark_cluster: SparkClusterService,
    local_stack: LocalStack,
    fresh_s3: Callable[..., S3Resource],
    stack_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ClusterRun]:
    """The lake built by a child run process whose Spark session is a driver on the cluster."""
    s3 = fresh_s3("cluster-run")
    work = tmp_path_factory.mktemp("cluster-run")  # its working directory: not the checkout
    report_path, log_path = work / "report.json", work / "run.log"
    env = {k: v for k, v in os.environ.items() if k not in AWS_KEYS and k != "PYSPARK_PYTHON"}
    env.update(
        STEAM_PLATFORM_ENV="local",
        STEAM_STACK_DIR=str(local_stack.state_dir),  # Kafka, S3 and the jars from the stack's env file
        SPARK_MASTER=spark_cluster.master_url,
        LAKE_BUCKET=s3.bucket,
        SPARK_LOCAL_IP="127.0.0.1",  # the UI enabled for the test listens on loopback only
    )
    days = ",".join(d.isoformat() for d in cd.DAYS)
    argv = [sys.executable, str(RUN_SCRIPT), "--days", days, "--report", str(report_path), "--hold-s", "300"]
    with open(log_path, "wb") as log:
        child = subprocess.Popen(argv, cwd=work, env=env, stdin=subprocess.PIPE, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + BUILD_BOUND_S
        while not report_path.exists():
            if child.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-6000:]
                pytest.fail(
                    f"the cluster run ended or timed out without a report (rc {child.poll()}):\n{tail}"
                )
            time.sleep(1)
        report = json.loads(report_path.read_text())
        seen = inspect_processes(spark_cluster, {child.pid: "driver"}, stack_env["AWS_SECRET_ACCESS_KEY"])
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        child.stdin.close()
        assert child.wait(EXIT_BOUND_S) == 0, log_path.read_text(errors="replace")[-4000:]
        yield ClusterRun(s3=s3, report=report, processes=seen)
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)  # the run stops its Spark application on the way out
            try:
                child.wait(60)
            except subprocess.TimeoutExpired:
                kill_all(process_tree(child.pid))


@pytest.fixture(scope="module")
def local_lake(
    produced: list[OutgoingMessage],
    cluster_lake: ClusterRun,
    spark: SparkSession,
    pyspark_resource: LakePySparkResource,
    lake_kafka: KafkaResource,
    fresh_s3: Callable[..., S3Resource],
) -> S3Resource:
    """The same assets on the same topics in the tests' own `local[2]` session (after the cluster run,
    so both read the same records)."""
    s3 = fresh_s3("cluster-local")
    build({"s3": s3, "kafka": lake_kafka, "pyspark": pyspark_resource}, cd.DAYS)
    return s3


def _rows(frame: DataFrame, drop: frozenset[str] = frozenset()) -> list[tuple[Any, ...]]:
    columns = [c for c in frame.columns if c not in drop]
    return sorted((tuple(r) for r in frame.select(*columns).collect()), key=repr)


def test_the_runs_tasks_ran_on_both_workers_executors(
    cluster_lake: ClusterRun, spark_cluster: SparkClusterService
) -> None:
    report = cluster_lake.report
    assert report["master"] == spark_cluster.master_url
    executors = [e for e in report["executors"] if e["id"] != "driver"]
    assert len(executors) == 2, executors
    assert all(e["hostPort"].startswith("127.0.0.1:") and e["totalTasks"] > 0 for e in executors), executors
    assert report["spark_config"]["spark.executor.memory"] == "1g"
    # Python tasks ran in the driver's interpreter, which imports the checkout's `streaming` package.
    assert {p["python"] for p in report["probe"]} == {sys.executable}
    assert {p["streaming"] for p in report["probe"]} == {streaming.news_text.__file__}
    executor_python = {s.program for s in cluster_lake.processes if s.role == "python"}
    assert executor_python == {sys.executable}, cluster_lake.processes
    # The application is the cluster's: executors are the workers' children, not the driver's.
    roles = Counter(s.role for s in cluster_lake.processes)
    assert roles["executor"] == 2, roles
    # Driver, daemons, executors and Python workers listen on loopback only.
    assert {ip for s in cluster_lake.processes for ip in s.listening} <= LOOPBACK, cluster_lake.processes
    state = master_json(spark_cluster.ui_url)
    assert state is not None
    (app,) = [a for a in state["completedapps"] if a["id"] == report["app_id"]]
    assert app["cores"] == 2 and app["memoryperexecutor"] == 1024, app


def test_no_secret_on_any_command_line_environment_or_in_the_ui(
    cluster_lake: ClusterRun, stack_env: dict[str, str]
) -> None:
    secret = stack_env["AWS_SECRET_ACCESS_KEY"]
    leaks = [s for s in cluster_lake.processes if s.secret_in_cmdline or s.secret_in_environ]
    assert not leaks, leaks
    # Executors got the keys only inside their tasks' Hadoop configuration, not from the environment.
    executors = [s for s in cluster_lake.processes if s.role in ("executor", "python")]
    assert executors and not any(s.aws_vars for s in executors), executors
    environment = cluster_lake.report["environment"]
    assert secret not in json.dumps(environment)
    hadoop = dict(environment["hadoopProperties"])
    assert hadoop["fs.s3a.secret.key"] == hadoop["fs.s3a.access.key"] == "*********(redacted)"
    assert secret not in json.dumps(cluster_lake.report["spark_config"])


def test_every_record_lands_in_bronze_exactly_once(
    cluster_lake: ClusterRun, produced: list[OutgoingMessage], spark: SparkSession
) -> None:
    ours = [str(a) for a in cd.APPS] + [cd.PLAYER, cd.BAD_KEY]
    root = cluster_lake.s3.lake_root()
    for topic in TOPICS:
        landed = read_table(spark, bronze_path(root, topic), BRONZE_SCHEMA)
        held = read_table(spark, quarantine_path(root, topic), QUARANTINE_SCHEMA)
        offsets = [
            (r.kafka_partition, r.kafka_offset)
            for r in landed.select("kafka_partition", "kafka_offset")
            .union(held.select("kafka_partition", "kafka_offset"))
            .collect()
        ]
        assert len(offsets) == len(set(offsets)), f"{topic}: an offset landed twice"
        mine = landed.where(landed.kafka_key.isin(ours))
        got = Counter(r.event_id for r in mine.select("event_id").collect())
        assert got == cd.envelopes_per_event([m for m in produced if m.topic == topic]), topic
    bad = read_table(spark, quarantine_path(root, sources.PLAYER_COUNTS.topic), QUARANTINE_SCHEMA)
    assert bad.where(bad.kafka_key == cd.BAD_KEY).count() == 1


def test_every_table_equals_the_local_two_core_build(
    cluster_lake: ClusterRun, local_lake: S3Resource, spark: SparkSession
) -> None:
    on_cluster, local = cluster_lake.s3.lake_root(), local_lake.lake_root()
    for topic in TOPICS:
        for path, schema in ((bronze_path, BRONZE_SCHEMA), (quarantine_path, QUARANTINE_SCHEMA)):
            a = _rows(read_table(spark, path(on_cluster, topic), schema), LANDING_COLUMNS)
            b = _rows(read_table(spark, path(local, topic), schema), LANDING_COLUMNS)
            assert a == b, f"{path.__name__} {topic}"
    for table in TABLES:
        a = _rows(read_table(spark, table.path(on_cluster), written_schema(table)))
        b = _rows(read_table(spark, table.path(local), written_schema(table)))
        assert a == b, table.name
        frame = read_table(spark, table.path(on_cluster), written_schema(table))
        assert frame.where(frame.appid.isin(list(cd.APPS))).count() > 0, table.name
    news = read_table(spark, FACT_NEWS.path(on_cluster), written_schema(FACT_NEWS))
    texts = {r.contents_text for r in news.where(news.appid.isin(list(cd.APPS))).collect()}
    assert texts == {"Patch notes"}  # the Python UDF, run on the executors


def test_pipes_spark_submit_lands_every_event_once_on_the_cluster(
    spark_cluster: SparkClusterService,
    lake_kafka: KafkaResource,
    fresh_s3: Callable[..., S3Resource],
    stack_env: dict[str, str],
) -> None:
    s3 = fresh_s3("cluster-pipes")
    topic = f"test.cluster.{uuid.uuid4().hex[:8]}"
    lake_kafka.ensure_topics([TopicSpec(topic, partitions=2)])
    start = at("2026-11-16T10:00")
    events = [
        player_count_message(topic, cd.APPS[0], start + timedelta(minutes=i), 10 + i) for i in range(80)
    ]
    produce(lake_kafka, events[:50])
    pipes = build_pipes_client(
        jars=[str(p) for p in connector_jars()], master=spark_cluster.master_url, driver_memory="768m"
    )
    job = ContinuousRun(topic, s3)
    config = {"interval": "2 seconds", "stop_after_s": STOP_AFTER_S, "stop_when_idle_s": IDLE_STOP_S}
    job.start(pipes, lake_kafka, {**config, "asset_key": "bronze_player_counts"})
    try:
        job.wait_for_first_batch(FIRST_BATCH_WAIT_S)
        # The job's driver (spark-submit) has the keys in its environment, by design; no command line
        # has them, nor the executors the workers started for it.
        drivers = {p.pid: "driver" for p in job_processes(topic)}
        assert drivers, "the spark-submit processes were not found"
        seen = inspect_processes(spark_cluster, drivers, stack_env["AWS_SECRET_ACCESS_KEY"])
        produce(lake_kafka, events[50:])  # arrives while the query runs
    except BaseException:
        job.kill()
        raise
    job.finish(RUN_BOUND_S)
    instance = job.instance

    assert not [s for s in seen if s.secret_in_cmdline], seen
    assert {ip for s in seen for ip in s.listening} <= LOOPBACK, seen
    executors = [s for s in seen if s.role in ("executor", "python")]
    assert sum(s.role == "executor" for s in executors) == 2, seen
    assert not [s for s in executors if s.secret_in_environ or s.aws_vars], executors

    ids = bronze_event_ids(s3, topic)
    assert len(ids) == len(events) and set(ids) == event_ids(events)

    recorded = instance.get_latest_materialization_event(dg.AssetKey("bronze_player_counts"))
    assert recorded is not None and recorded.asset_materialization is not None
    assert recorded.asset_materialization.metadata["rows_landed"].value == len(events)
    state = master_json(spark_cluster.ui_url)
    assert state is not None
    apps = [a for a in state["completedapps"] if a["name"] == f"bronze_{topic}"]
    assert len(apps) == 1 and apps[0]["state"] == "FINISHED", state["completedapps"]
