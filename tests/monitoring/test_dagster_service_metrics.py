"""The exporter's view of Dagster's own processes (`steam_platform/monitoring/dagster_services.py`,
`code_servers.py`): daemon heartbeats from the instance, the start time of the Postgres holding
Dagster's storage, and whether each code server of a workspace answers and with which id."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from dagster._daemon.types import DaemonHeartbeat
from dagster._utils.error import SerializableErrorInfo
from prometheus_client.core import Metric

from steam_devstack.code_server import CodeLocation, SupervisedCodeServer, SupervisionPolicy
from steam_devstack.health import free_port, poll
from steam_devstack.paths import REPO_ROOT, cache_dir
from steam_devstack.services.base import StackContext
from steam_devstack.services.monitoring import MonitoringService
from steam_platform.monitoring.code_servers import CodeServer, code_server_metrics, workspace_code_servers
from steam_platform.monitoring.dagster_services import daemon_metrics, storage_metrics


def samples(families: Iterator[Metric]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}


def test_each_daemon_types_heartbeat_age_errors_and_the_daemon_ids_behind_them(tmp_path: Path) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        assert samples(daemon_metrics(instance)) == {}  # no daemon ever ran: nothing to alert on
        error = SerializableErrorInfo("boom", [], "Exception")
        instance.add_daemon_heartbeat(DaemonHeartbeat(1000.0, "SCHEDULER", "old", [error, error]))
        instance.add_daemon_heartbeat(DaemonHeartbeat(1000.0, "SENSOR", "old"))
        instance.add_daemon_heartbeat(DaemonHeartbeat(1090.0, "SENSOR", "new"))  # restarted
        got = samples(daemon_metrics(instance, now=1100.0))
    assert got == {
        ("steam_dagster_daemon_heartbeat_age_seconds", (("daemon_type", "SCHEDULER"),)): 100.0,
        ("steam_dagster_daemon_heartbeat_age_seconds", (("daemon_type", "SENSOR"),)): 10.0,
        ("steam_dagster_daemon_heartbeat_errors", (("daemon_type", "SCHEDULER"),)): 2.0,
        ("steam_dagster_daemon_heartbeat_errors", (("daemon_type", "SENSOR"),)): 0.0,
        ("steam_dagster_daemon_info", (("daemon_id", "new"),)): 1.0,
        ("steam_dagster_daemon_info", (("daemon_id", "old"),)): 1.0,
    }


def test_a_sqlite_instance_has_no_storage_server_to_restart() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        assert list(storage_metrics(instance)) == []


def test_the_workspaces_grpc_servers_are_the_ones_checked(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n"
        "  - grpc_server: {host: dagster-code, port: 4000, location_name: steam_platform}\n"
        "  - grpc_server: {host: other, port: 4001}\n"
        "  - python_module: steam_platform.definitions\n"
    )
    assert workspace_code_servers(workspace) == [
        CodeServer("steam_platform", "dagster-code", 4000),
        CodeServer("other:4001", "other", 4001),
    ]


def test_the_stacks_exporter_checks_dev_code_server_unless_told_otherwise(tmp_path: Path) -> None:
    ctx = StackContext(state_dir=tmp_path, cache_dir=cache_dir(), ports={"metrics": 19464})
    stack_default = MonitoringService(ctx).write_workspace()
    assert stack_default is not None  # `steam-platform dev`'s code server, on its default port
    assert workspace_code_servers(stack_default) == [CodeServer("steam_platform", "127.0.0.1", 4000)]
    chaos = MonitoringService(ctx, code_servers=[CodeLocation(port=4321)]).write_workspace()
    assert chaos is not None
    assert workspace_code_servers(chaos) == [CodeServer("steam_platform", "127.0.0.1", 4321)]
    assert MonitoringService(ctx, exporter_env={"DAGSTER_HOME": str(tmp_path)}).write_workspace() is None


@pytest.mark.integration
def test_postgres_start_time_through_the_deployed_instance_config(
    stack_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for key, value in stack_env.items():
        monkeypatch.setenv(key, value)
    with dg.DagsterInstance.get() as instance:
        got = samples(storage_metrics(instance))
    conn = psycopg2.connect(
        host=stack_env["DAGSTER_PG_HOST"],
        port=int(stack_env["DAGSTER_PG_PORT"]),
        user=stack_env["DAGSTER_PG_USER"],
        password=stack_env["DAGSTER_PG_PASSWORD"],
        dbname=stack_env["DAGSTER_PG_DB"],
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT extract(epoch FROM pg_postmaster_start_time())")
            (started,) = cur.fetchone()
    finally:
        conn.close()
    assert got == {("steam_dagster_storage_start_timestamp_seconds", ()): pytest.approx(float(started))}
    assert float(started) < time.time()


@pytest.mark.integration
def test_a_code_server_is_up_with_its_id_and_down_quickly_once_gone(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "tiny_defs.py").write_text("import dagster as dg\n\ndefs = dg.Definitions()\n")
    (tmp_path / "home").mkdir()
    location = CodeLocation(
        port=free_port(), module="tiny_defs", location_name="tiny", working_directory=tmp_path / "code"
    )
    server = SupervisedCodeServer(
        location,
        log_file=tmp_path / "code-server.log",
        env={"DAGSTER_HOME": str(tmp_path / "home")},
        policy=SupervisionPolicy(check_interval_s=1, startup_timeout_s=60),
    )
    watched = [CodeServer("tiny", location.host, location.port)]
    up = ("steam_dagster_code_server_up", (("location", "tiny"),))
    server.start()
    try:
        assert poll(lambda: samples(code_server_metrics(watched)).get(up) == 1, timeout=90), (
            server.log_file.read_text()
        )
        got = samples(code_server_metrics(watched))
        (server_id,) = [dict(labels)["server_id"] for name, labels in got if name.endswith("_info")]
        assert server_id
    finally:
        server.stop()
    began = time.monotonic()
    assert samples(code_server_metrics(watched)) == {up: 0.0}
    assert time.monotonic() - began < 5
