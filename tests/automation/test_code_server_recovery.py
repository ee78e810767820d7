"""`make dev`'s code server comes back by itself: a real `dagster code-server start` on a small code
location, supervised as `steam-platform dev` supervises it, SIGKILLed the two ways it can die.

- its code process (`dagster api grpc`, under the proxy) dies: the proxy alone never recovers (the
  reason for the supervisor), the supervisor restarts it;
- the code server process itself dies: restarted on the same port;
- code that does not load is answered with its error and is not restarted in a loop.

The same recovery on the real stack, mid lake run, with the daemon and the webserver, is in
test_automation_daemon.py (`test_the_platform_recovers_when_its_code_server_is_killed`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from steam_devstack.code_server import CodeLocation, SupervisedCodeServer, SupervisionPolicy
from steam_devstack.health import free_port, poll
from steam_platform.monitoring.code_servers import code_server_id

DEFS = """
import dagster as dg


@dg.asset
def answer() -> int:
    return 42


defs = dg.Definitions(assets=[answer])
"""
POLICY = SupervisionPolicy(check_interval_s=1, failures_before_restart=2, startup_timeout_s=60)


def _server(tmp_path: Path, source: str) -> SupervisedCodeServer:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "small_defs.py").write_text(source)
    (tmp_path / "home").mkdir()
    location = CodeLocation(
        port=free_port(), module="small_defs", location_name="small", working_directory=tmp_path / "code"
    )
    return SupervisedCodeServer(
        location,
        log_file=tmp_path / "code-server.log",
        env={"DAGSTER_HOME": str(tmp_path / "home")},
        policy=POLICY,
    )


@pytest.fixture
def started(tmp_path: Path) -> Iterator[SupervisedCodeServer]:
    """The small code location's server, started and answering (not yet supervised)."""
    server = _server(tmp_path, DEFS)
    server.start()
    try:
        assert poll(lambda: server.check() is None and server.ready, timeout=60), server.log_file.read_text()
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def supervising(server: SupervisedCodeServer) -> Iterator[None]:
    """Check `server` every second in a thread, as `steam-platform dev` does."""
    stop = threading.Event()
    watcher = threading.Thread(target=server.supervise, args=(stop,), daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(30)


def _server_id(server: SupervisedCodeServer) -> str | None:
    return code_server_id(server.location.host, server.location.port, timeout_s=5)


def _back_with_a_new_server(server: SupervisedCodeServer, old_id: str, timeout: float) -> bool:
    return poll(lambda: server.ready and _server_id(server) not in (None, old_id), timeout=timeout)


def test_a_dead_code_process_is_restarted(started: SupervisedCodeServer) -> None:
    proxy = psutil.Process(started.pid)
    (code,) = [c for c in proxy.children() if "grpc" in c.cmdline()]
    old_id = _server_id(started)
    assert old_id
    code.kill()
    # Left alone, the proxy keeps running and its port open, and answers nothing.
    time.sleep(3)
    assert proxy.is_running() and _server_id(started) is None
    with supervising(started):
        assert _back_with_a_new_server(started, old_id, timeout=60), started.log_file.read_text()
    assert started.restarts == 1
    assert not proxy.is_running()


def test_a_dead_code_server_is_restarted_on_its_port(started: SupervisedCodeServer) -> None:
    old_id = _server_id(started)
    assert old_id and started.pid
    (code,) = [c for c in psutil.Process(started.pid).children() if "grpc" in c.cmdline()]
    with supervising(started):
        os.kill(started.pid, signal.SIGKILL)
        assert _back_with_a_new_server(started, old_id, timeout=60), started.log_file.read_text()
    assert started.restarts == 1
    # The old code process would outlive its proxy (it ignores its heartbeat timeout): not left behind.
    assert poll(lambda: not code.is_running(), timeout=10)


def test_code_that_does_not_load_is_not_restarted(tmp_path: Path) -> None:
    server = _server(tmp_path, "raise RuntimeError('broken on purpose')\n")
    server.start()
    try:
        assert poll(lambda: server.check() is None and server.ready, timeout=60), server.log_file.read_text()
        for _ in range(3):
            assert server.check() is None
            time.sleep(POLICY.check_interval_s)
        assert server.restarts == 0
        assert "broken on purpose" in server.log_file.read_text()
    finally:
        server.stop()
