"""Process bookkeeping of the local stack: a stopped service leaves no process behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import sys
import time
from pathlib import Path

from steam_devstack.health import free_port, port_open
from steam_devstack.process import ManagedProcess, _group_alive


def _managed(tmp_path: Path) -> ManagedProcess:
    return ManagedProcess("probe", tmp_path / "probe.pid", tmp_path / "logs" / "probe.log")


def test_stop_kills_the_whole_process_group_including_children(tmp_path: Path) -> None:
    proc = _managed(tmp_path)
    # The parent spawns a child that would outlive it if only the parent were signalled.
    script = (
        "import subprocess, time; subprocess.Popen(['sleep', '300']); "
        "print('started', flush=True); time.sleep(300)"
    )
    pid = proc.start([sys.executable, "-c", script], cwd=tmp_path)
    deadline = time.monotonic() + 10
    while "started" not in proc.log_file.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.is_running() and proc.pid() == pid
    assert _group_alive(pid)

    assert proc.stop(timeout=5) is True
    assert not _group_alive(pid)
    assert not proc.pid_file.exists()
    assert proc.stop() is False  # idempotent


def test_a_recycled_pid_is_not_mistaken_for_the_server(tmp_path: Path) -> None:
    proc = _managed(tmp_path)
    # Our own pid is alive, but with another start time than the one recorded.
    proc.pid_file.write_text(json.dumps({"pid": __import__("os").getpid(), "start": 1}))
    assert proc.pid() is None
    assert proc.stop() is False


def test_sigterm_ignoring_process_is_killed_after_the_timeout(tmp_path: Path) -> None:
    proc = _managed(tmp_path)
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ok', flush=True); time.sleep(300)"
    )
    pid = proc.start([sys.executable, "-c", script], cwd=tmp_path)
    deadline = time.monotonic() + 10
    while "ok" not in proc.log_file.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    assert proc.stop(timeout=1)
    assert time.monotonic() - started < 10
    assert not _group_alive(pid)


def test_free_port_is_free() -> None:
    port = free_port()
    assert 1024 < port < 65536
    assert not port_open("127.0.0.1", port)


def test_memory_of_a_service_counts_children_that_left_its_process_group(tmp_path: Path) -> None:
    """PostgreSQL backends call setsid(): `stack status` must still count them."""
    from steam_devstack.process import service_pids, service_rss_bytes

    proc = _managed(tmp_path)
    # The child leaves the group, fills 64 MB (written, so resident), then says so.
    script = (
        "import subprocess, sys, time; "
        "child = subprocess.Popen([sys.executable, '-c', "
        '\'import os, time; os.setsid(); x = b"x" * (64 * 2**20); print("ready", flush=True); '
        "time.sleep(300)']); "
        "print('child', child.pid, flush=True); time.sleep(300)"
    )
    pid = proc.start([sys.executable, "-c", script], cwd=tmp_path)
    child = None
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not {"ready", "child"} <= set(
            proc.log_file.read_text().split()
        ):
            time.sleep(0.05)
        child = int(proc.log_file.read_text().split("child", 1)[1].split()[0])
        assert os.getpgid(child) != pid
        assert service_pids(pid) == {pid, child}
        assert service_rss_bytes(pid) > 64 * 2**20  # the child's 64 MB buffer is counted
    finally:
        proc.stop(timeout=5)
        if child is not None:  # in its own session: not stopped with the group
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)


def test_a_checkout_in_a_private_folder_is_made_traversable_for_the_service_user(tmp_path: Path) -> None:
    """`git clone` into `mktemp -d` (0700): the servers, run as the service user, must reach the
    jars and configs inside; only the search bit is added, nothing becomes readable."""
    from steam_devstack.services.base import StackContext

    private = tmp_path / "clone"
    jars = private / ".cache" / "jars"
    jars.mkdir(parents=True)
    private.chmod(0o700)
    ctx = StackContext(state_dir=tmp_path / "state", cache_dir=private / ".cache")

    ctx.expose_to_run_user(ctx.cache_dir)

    mode = stat.S_IMODE(private.stat().st_mode)
    if ctx.run_user is None:  # not root: servers run as the caller, nothing to change
        assert mode == 0o700
    else:
        assert mode == 0o701
