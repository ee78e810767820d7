"""`steam-platform stack up|status|down` as a user runs it: idempotent, and down leaves nothing."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "steam_devstack.cli"]


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention `text` (e.g. the stack's state folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(cmdline)
    return found


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.timeout(600)
def test_up_twice_status_then_down_leaves_no_process(stack_state_dir: Callable[[str], Path]) -> None:
    state = stack_state_dir("cli-stack")
    up = _cli("stack", "up", "--only", "kafka", "--state-dir", str(state))
    assert up.returncode == 0, up.stderr
    try:
        ports = json.loads((state / "stack.json").read_text())["ports"]
        assert f"KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{ports['kafka_broker_1']}" in up.stdout

        again = _cli("stack", "up", "--only", "kafka", "--state-dir", str(state))
        assert again.returncode == 0, again.stderr
        assert "already running" in again.stderr

        # `status` covers the services this stack was started with (recorded by `up`), not all.
        status = _cli("stack", "status", "--state-dir", str(state))
        assert status.returncode == 0, status.stdout
        rows = {line.split()[0]: line.split() for line in status.stdout.splitlines()[1:]}
        assert list(rows) == ["kafka"]
        assert rows["kafka"][1] == "healthy" and float(rows["kafka"][2]) > 50  # a JVM's RSS, in MB
        # Each broker's Prometheus endpoint (JMX exporter agent) is listed with the endpoints.
        assert f"KAFKA_METRICS_URLS': 'http://127.0.0.1:{ports['kafka_metrics_1']}/metrics" in status.stdout
        assert json.loads((state / "stack.json").read_text())["services"] == ["kafka"]
        assert _processes_mentioning(str(state)), "the broker should be running"
        # The env file may hold passwords: owner-only.
        assert stat.S_IMODE((state / "env").stat().st_mode) == 0o600
    finally:
        down = _cli("stack", "down", "--state-dir", str(state))
    assert down.returncode == 0, down.stderr
    assert "kafka-1" in down.stdout
    assert _processes_mentioning(str(state)) == []
    status = _cli("stack", "status", "--state-dir", str(state))
    assert status.returncode == 1 and "stopped" in status.stdout
    assert [line.split()[0] for line in status.stdout.splitlines()[1:]] == ["kafka"]
