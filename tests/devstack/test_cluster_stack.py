"""`steam-platform stack up --spark-cluster`: the standalone cluster as a service of the local stack.

Through the real CLI in a state folder of its own (free ports recorded first): the master and two
workers start as separate JVMs, each in its own process group, with a capped heap, listening on
127.0.0.1 only and without the AWS keys of the environment that started them; `stack env` and the
platform's local wiring point Spark at the master; `status` reports them; `down` stops them (and
the choice survives it); `up --no-spark-cluster` removes the cluster from the stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from steam_devstack.health import poll
from steam_devstack.services.registry import SPARK_CLUSTER
from steam_devstack.services.spark_cluster import DAEMON_MEMORY, SparkClusterService
from steam_devstack.stack import LocalStack
from steam_platform.core.settings import Environment, SparkSettings
from steam_platform.resources.wiring import build_resources

pytestmark = pytest.mark.cluster

CLI_TIMEOUT_S = 300
#: Set in the CLI's environment: the cluster's processes must not inherit it.
FAKE_SECRET = "cluster-test-not-a-real-secret"


def cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "cluster-test-key", "AWS_SECRET_ACCESS_KEY": FAKE_SECRET}
    return subprocess.run(
        [sys.executable, "-m", "steam_devstack.cli", "stack", *args, "--state-dir", str(state)],
        capture_output=True,
        text=True,
        env=env,
        timeout=CLI_TIMEOUT_S,
    )


def _gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie waiting for its new parent to reap it counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def state(stack_state_dir: Callable[[str], Path]) -> Iterator[Path]:
    """A state folder whose ports are chosen (free ones) before the CLI runs; stopped afterwards."""
    path = stack_state_dir("cli-cluster")
    LocalStack(path, only=[SPARK_CLUSTER], prefer_default_ports=False)  # records free ports
    try:
        yield path
    finally:
        LocalStack(path, only=[SPARK_CLUSTER]).down()


def test_stack_up_spark_cluster_runs_master_and_workers_and_down_stops_them(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    up = cli(state, "up", "--spark-cluster", "--only", SPARK_CLUSTER)
    assert up.returncode == 0, up.stderr
    service = SparkClusterService(LocalStack(state).ctx)
    assert f"SPARK_MASTER={service.master_url}" in up.stdout
    assert json.loads((state / "stack.json").read_text())["spark_cluster"] is True
    assert f"export SPARK_MASTER={service.master_url}\n" in (state / "env").read_text()

    status = cli(state, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert any(line.split()[:2] == [SPARK_CLUSTER, "healthy"] for line in status.stdout.splitlines())

    pids = [p.pid() for p in service.processes()]
    assert None not in pids and len(set(pids)) == 3
    for pid, proc in zip(pids, service.processes(), strict=True):
        assert pid is not None
        daemon = psutil.Process(pid)
        argv = daemon.cmdline()
        assert os.getpgid(pid) == pid, proc.name  # its own process group
        assert f"-Xmx{DAEMON_MEMORY}" in argv, argv
        if "worker" in proc.name:
            assert argv[argv.index("--cores") + 1] == "1" and argv[argv.index("--memory") + 1] == "1g"
        sockets = daemon.net_connections(kind="inet")
        listening = [c.laddr.ip for c in sockets if c.status == psutil.CONN_LISTEN]
        assert listening and {ip.removeprefix("::ffff:") for ip in listening} == {"127.0.0.1"}, listening
        environ = daemon.environ()
        assert "AWS_SECRET_ACCESS_KEY" not in environ and "AWS_ACCESS_KEY_ID" not in environ
        assert FAKE_SECRET not in " ".join(argv)

    # The platform's local wiring reads the env file: Spark runs on the cluster, in-process and submitted.
    for var in ("SPARK_MASTER", "STEAM_PLATFORM_ENV"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("STEAM_STACK_DIR", str(state))
    resources = build_resources(Environment.LOCAL)
    assert resources["pyspark"].spark_config["spark.master"] == service.master_url
    assert resources["pyspark"].spark_config["spark.pyspark.python"] == sys.executable
    assert resources["pipes_subprocess"].env[SparkSettings.env_name("master")] == service.master_url

    down = cli(state, "down")
    assert down.returncode == 0, down.stderr
    assert "spark_cluster-master" in down.stdout and "spark_cluster-worker-2" in down.stdout
    assert poll(lambda: all(_gone(p) for p in pids if p), timeout=30, interval=0.2)
    assert json.loads((state / "stack.json").read_text())["spark_cluster"] is True  # the choice stays

    # `--no-spark-cluster` drops it: no longer in the env file, nor in `status`.
    off = cli(state, "up", "--no-spark-cluster", "--only", "spark")
    assert off.returncode == 0, off.stderr
    assert json.loads((state / "stack.json").read_text())["spark_cluster"] is False
    assert "SPARK_MASTER" not in (state / "env").read_text()
    assert SPARK_CLUSTER not in cli(state, "status").stdout
