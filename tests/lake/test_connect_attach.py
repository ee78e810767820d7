"""The `pyspark` resource and Spark Connect: when it attaches, and how a run fails over.

No server needed: a closed port and a port that accepts TCP but never speaks gRPC (a hung server)
must both end the wait within the bound and leave the run on its in-process driver, with a WARNING
naming why; without the setting nothing is probed. The real server's runs are in
`tests/lake/test_lake_pipeline.py`.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import dagster as dg
import pytest

from steam_devstack.health import free_port
from steam_platform.core.settings import Environment
from steam_platform.resources.s3 import S3Resource
from steam_platform.resources.spark import LakePySparkResource, build_pyspark_resource
from steam_platform.resources.wiring import build_resources
from streaming.connect_session import ConnectUnavailableError, attach, session_conf

IN_PROCESS = object()


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung server)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield int(server.getsockname()[1])


def resource(remote: str | None, monkeypatch: pytest.MonkeyPatch) -> LakePySparkResource:
    monkeypatch.setattr(LakePySparkResource, "_in_process", lambda self: IN_PROCESS)
    built = build_pyspark_resource(S3Resource(), jars=[__file__], remote=remote)  # a file that exists
    return built.model_copy(update={"remote_timeout_s": 1.0})


@pytest.mark.parametrize("server", ["closed", "hung"])
def test_an_unreachable_server_leaves_the_run_on_its_own_driver_with_a_warning(
    server: str, silent_listener: int, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    port = free_port() if server == "closed" else silent_listener
    pyspark = resource(f"sc://127.0.0.1:{port}", monkeypatch)
    started = time.monotonic()
    with pyspark.yield_for_execution(dg.build_init_resource_context()) as live:
        assert live.spark_session is IN_PROCESS
    assert time.monotonic() - started < 5  # bounded by remote_timeout_s, not gRPC's 10-minute retries
    # The run's log (Dagster's log manager; in a run, its event log) carries the WARNING.
    (warning,) = [line for line in capfd.readouterr().err.splitlines() if " - WARNING - " in line]
    assert "in-process driver" in warning and f"sc://127.0.0.1:{port}" in warning


def test_without_the_setting_nothing_is_probed(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_probe(*_: object, **__: object) -> None:
        raise AssertionError("probed a Connect server")

    monkeypatch.setattr("steam_platform.resources.spark.attach", no_probe)
    with resource(None, monkeypatch).yield_for_execution(dg.build_init_resource_context()) as live:
        assert live.spark_session is IN_PROCESS


def test_attach_refuses_a_url_that_is_not_spark_connect() -> None:
    with pytest.raises(ConnectUnavailableError, match="not a Spark Connect URL"):
        attach("http://127.0.0.1:1", {}, timeout_s=1)


def test_only_sql_settings_are_sent_per_session() -> None:
    conf = build_pyspark_resource(S3Resource(), jars=["/jars/a.jar"]).session_conf()
    sent = session_conf(conf)
    assert sent["spark.sql.session.timeZone"] == "UTC"
    assert sent["spark.sql.sources.partitionOverwriteMode"] == "dynamic"
    assert not [k for k in sent if not k.startswith("spark.sql.")]  # memory, jars, S3A stay the server's


def test_the_remote_setting_reaches_the_pyspark_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    monkeypatch.setenv("STEAM_SPARK_REMOTE", "sc://connect.internal:15002")
    assert build_resources(Environment.PRODUCTION)["pyspark"].remote == "sc://connect.internal:15002"
    monkeypatch.delenv("STEAM_SPARK_REMOTE")
    assert build_resources(Environment.PRODUCTION)["pyspark"].remote is None


def test_an_attached_session_is_the_runs_and_is_released_at_teardown(monkeypatch: pytest.MonkeyPatch) -> None:
    """One run, one session: every step of the run gets the attached session, released at the end."""

    class Attached:
        stopped = False

        def stop(self) -> None:
            self.stopped = True

    attached = Attached()
    monkeypatch.setattr(LakePySparkResource, "_attach", lambda self: attached)
    monkeypatch.setattr("steam_platform.resources.spark.is_connect", lambda spark: spark is attached)
    with resource("sc://127.0.0.1:1", monkeypatch).yield_for_execution(
        dg.build_init_resource_context()
    ) as live:
        assert live.session() is attached and live.spark_session is attached
        assert not attached.stopped
    assert attached.stopped  # released on the server at teardown
