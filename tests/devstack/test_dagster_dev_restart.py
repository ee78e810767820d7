"""`steam-platform dev` starts `dagster dev` again when it exits on its own (its daemon died), and
gives up, with the exit code, when it keeps dying: real child processes, short policies."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path

import pytest

from steam_devstack.dagster_dev import DevRestartPolicy, dagster_dev_command, keep_running


def _exits_with(code: int, starts: list[float]) -> subprocess.Popen[bytes]:
    starts.append(time.monotonic())
    return subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])


def test_a_dagster_dev_that_keeps_dying_is_restarted_then_given_up_with_its_code() -> None:
    starts: list[float] = []
    lines: list[str] = []
    policy = DevRestartPolicy(delay_s=0.2, max_restarts=3, window_s=60)
    code = keep_running(lambda: _exits_with(3, starts), policy, log=lines.append)
    assert code == 3
    assert len(starts) == 4  # the first start and three restarts
    assert all(later - earlier >= 0.2 for earlier, later in itertools.pairwise(starts))
    assert sum("starting it again" in line for line in lines) == 3
    assert "giving up" in lines[-1]


class Enough(Exception):
    """Ends a run of `keep_running` that would go on restarting."""


def test_restarts_older_than_the_window_do_not_count() -> None:
    starts: list[float] = []
    # Each exit comes after the window has passed: no restart counts against the limit of one.
    policy = DevRestartPolicy(delay_s=0.3, max_restarts=1, window_s=0.2)

    def start() -> subprocess.Popen[bytes]:
        if len(starts) == 4:
            raise Enough
        return _exits_with(1, starts)

    with pytest.raises(Enough):
        keep_running(start, policy, log=lambda _: None)
    assert len(starts) == 4


def test_the_command_is_the_venvs_dagster_dev_on_the_workspace() -> None:
    command = dagster_dev_command(Path("/tmp/ws.yaml"), "127.0.0.1", 3000)
    assert command[0] == str(Path(sys.executable).with_name("dagster"))
    assert command[1:] == ["dev", "-w", "/tmp/ws.yaml", "-h", "127.0.0.1", "-p", "3000"]
