"""The production Spark Connect server in front of a real standalone cluster: runs attach, executors work.

What the Kubernetes chart and compose run (`python -m steam_platform.spark_connect_server`), started
here the way the chart's pod starts it: `SPARK_MASTER` names the cluster (master + 2 workers), the
chart's `--conf` settings (dynamic allocation of one-core executors), the S3 key pair in the
server's environment only, the connector jars from `STEAM_SPARK_JARS`.
A run process attaches to it (`connect_bronze_run.py`, no JVM of its own) and materialises the
platform's bronze asset for a topic of the test's own: every event must land exactly once. The
server's application must be the cluster's (registered with the master, executors under the
workers), and no process but the server itself may show the S3 secret: the executors got the key
with their tasks, not from their command line or environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster_processes import AWS_KEYS, LOOPBACK, Seen, inspect_processes
from lake_support import at, bronze_event_ids, event_ids, player_count_message, produce

from steam_devstack.health import free_port, wait_until
from steam_devstack.process import kill_all, process_tree
from steam_devstack.services.spark import connector_jars
from steam_devstack.services.spark_cluster import SparkClusterService, master_json
from steam_platform.resources.kafka import KafkaResource, TopicSpec
from steam_platform.resources.s3 import S3Resource
from streaming.connect_server import APP_NAME
from streaming.connect_session import server_answers

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]

CONNECT_BRONZE_RUN = Path(__file__).with_name("connect_bronze_run.py")
#: Bounds: the server's start (its application registered with the master), the attached run.
START_BOUND_S = 180
RUN_BOUND_S = 420
EVENTS = 240
#: The chart's settings of its server (dynamic allocation, one-core executors): proven here on a
#: real standalone cluster.
CHART_CONNECT_CONF: dict[str, str] = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "deploy/helm/platform-infra/values.yaml").read_text()
)["spark"]["connect"]["conf"]


@dataclass(frozen=True)
class Server:
    """The running server: where clients attach, its process, its log."""

    remote: str
    process: subprocess.Popen[bytes]
    log: Path


def _log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def connect_server(
    spark_cluster: SparkClusterService, stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The platform's server entry point, its driver's executors on the cluster's workers."""
    work = tmp_path_factory.mktemp("connect-server")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "PYSPARK_", "AWS_"))}
    env.update(
        SPARK_MASTER=spark_cluster.master_url,
        SPARK_DRIVER_HOST="127.0.0.1",  # where the executors reach the driver (a pod IP in Kubernetes)
        SPARK_LOCAL_IP="127.0.0.1",
        STEAM_SPARK_JARS=":".join(str(p) for p in connector_jars()),
        S3_ENDPOINT_URL=stack_env["S3_ENDPOINT_URL"],
        AWS_REGION=stack_env["AWS_REGION"],
        AWS_ACCESS_KEY_ID=stack_env["AWS_ACCESS_KEY_ID"],
        AWS_SECRET_ACCESS_KEY=stack_env["AWS_SECRET_ACCESS_KEY"],
    )
    chart_conf = [arg for key, value in CHART_CONNECT_CONF.items() for arg in ("--conf", f"{key}={value}")]
    argv = [
        sys.executable, "-m", "steam_platform.spark_connect_server",
        "--port", str(port), "--bind", "127.0.0.1", "--work-dir", str(work), *chart_conf,
    ]  # fmt: skip
    log = work / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=out, start_new_session=True)
    remote = f"sc://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: server_answers(remote, 2.0),
            what="the Connect server in front of the cluster",
            timeout=START_BOUND_S,
            alive=lambda: proc.poll() is None,
            log_hint=str(log),
        )
        yield Server(remote=remote, process=proc, log=log)
    finally:
        kill_all(process_tree(proc.pid))
        proc.wait(30)


def connect_app(cluster: SparkClusterService) -> dict[str, Any] | None:
    """The server's application as the master lists it among the running ones."""
    state = master_json(cluster.ui_url) or {}
    apps = [a for a in state.get("activeapps", []) if a.get("name") == APP_NAME]
    return apps[0] if apps else None


def test_an_attached_run_lands_bronze_once_on_the_clusters_executors(
    connect_server: Server,
    spark_cluster: SparkClusterService,
    lake_kafka: KafkaResource,
    fresh_s3: Callable[..., S3Resource],
    stack_env: dict[str, str],
    tmp_path: Path,
) -> None:
    s3 = fresh_s3("connect-cluster")
    topic = f"test.connect.cluster.{uuid.uuid4().hex[:8]}"
    lake_kafka.ensure_topics([TopicSpec(topic, partitions=3)])
    start = at("2026-10-01T22:00")
    messages = [
        player_count_message(topic, 100 + i % 30, start + timedelta(minutes=i), i) for i in range(EVENTS)
    ]
    produce(lake_kafka, messages)
    env_file = tmp_path / "stack-env.json"
    env_file.touch(0o600)
    env_file.write_text(json.dumps(stack_env))
    report = tmp_path / "report.json"
    argv = [
        sys.executable, str(CONNECT_BRONZE_RUN), "--remote", connect_server.remote, "--bucket", s3.bucket,
        "--topic", topic, "--env", str(env_file), "--report", str(report),
        "--jars", ":".join(str(p) for p in connector_jars()),
    ]  # fmt: skip
    client_env = {k: v for k, v in os.environ.items() if k not in AWS_KEYS}
    with open(tmp_path / "run.log", "wb") as out:
        child = subprocess.Popen(argv, env=client_env, stdout=out, stderr=out)
    secret = stack_env["AWS_SECRET_ACCESS_KEY"]
    cluster_side: list[Seen] = []  # the master, workers, executors and their Python workers
    deadline = time.monotonic() + RUN_BOUND_S
    while child.poll() is None:  # look at the application's processes while the run works
        assert time.monotonic() < deadline, _log_tail(tmp_path / "run.log")
        if not cluster_side and connect_app(spark_cluster) is not None:
            found = inspect_processes(spark_cluster, {}, secret)
            if any(s.role == "executor" for s in found):
                cluster_side = found
        time.sleep(1)
    # The server's own process tree: its JVM and the Python worker running bronze's foreachBatch.
    cluster_pids = {s.pid for s in inspect_processes(spark_cluster, {}, secret)}
    server_side = [
        s
        for s in inspect_processes(spark_cluster, {connect_server.process.pid: "server"}, secret)
        if s.pid not in cluster_pids
    ]
    assert child.returncode == 0, _log_tail(tmp_path / "run.log") + _log_tail(connect_server.log)

    found_report = json.loads(report.read_text())
    assert found_report["jvm_started"] is False  # the run started no driver: the server's did the work
    metadata = found_report["metadata"]
    assert (metadata["rows_landed"], metadata["rows_quarantined"]) == (EVENTS, 0)
    assert sorted(bronze_event_ids(s3, topic)) == sorted(event_ids(messages))  # each event exactly once

    # The server is the cluster's application: executors with the capped heap, under the workers.
    app = connect_app(spark_cluster)
    assert app is not None and app["cores"] > 0 and app["memoryperexecutor"] == 1024, app
    # The chart's cap: at most maxExecutors one-core executors, the rest of the cores left to others.
    assert app["cores"] <= int(CHART_CONNECT_CONF["spark.dynamicAllocation.maxExecutors"]), app
    assert cluster_side, "no executor of the server's application was seen while the run worked"
    executors = [s for s in cluster_side if s.role == "executor"]
    assert executors and all(s.aws_vars == () for s in executors), executors
    # Only the server holds the key pair: in its environment, as the chart's Secret gives it.
    assert [s for s in cluster_side if s.secret_in_cmdline or s.secret_in_environ] == [], cluster_side
    assert [s for s in server_side if s.secret_in_cmdline] == [], server_side
    (server,) = [s for s in server_side if s.role == "server"]
    assert server.secret_in_environ and server.program.endswith("java"), server
    seen = [*cluster_side, *server_side]
    assert {ip for s in seen for ip in s.listening} <= LOOPBACK, seen
