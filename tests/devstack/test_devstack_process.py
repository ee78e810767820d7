"""Process bookkeeping of the local stack: a stopped service leaves no process behind."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from steam_devstack.health import StackError, free_port, poll, port_open, wait_until
from steam_devstack.process import ManagedProcess, group_alive


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
    assert group_alive(pid)

    assert proc.stop(timeout=5) is True
    assert not group_alive(pid)
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
    assert not group_alive(pid)


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


def test_handing_a_folder_to_the_service_user_skips_files_a_running_server_removes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restarted Kafka node is handed `data/kafka`, which live nodes share: a checkpoint `.tmp`
    they rename while the walk passes must not fail the restart (it failed CI once)."""
    import pwd

    from steam_devstack.services import base

    node = tmp_path / "kafka" / "node-2"
    node.mkdir(parents=True)
    checkpoint = node / "replication-offset-checkpoint.tmp"
    checkpoint.write_text("0")
    (node / "meta.properties").write_text("node.id=2")
    me = pwd.getpwuid(os.getuid()).pw_name
    monkeypatch.setattr(base.StackContext, "run_user", property(lambda self: me))
    monkeypatch.setattr(base, "ensure_run_user", lambda: None)
    real_chown = os.chown
    chowned: list[str] = []

    def chown_while_the_broker_renames(path: str, uid: int, gid: int, **kwargs: bool) -> None:
        if path == str(node) and "node-2" in chowned:  # the walk has listed node-2's files by now
            checkpoint.unlink()  # the broker renames its checkpoint
        real_chown(path, uid, gid, **kwargs)
        chowned.append(os.path.basename(path))

    monkeypatch.setattr(base.os, "chown", chown_while_the_broker_renames)

    base.StackContext(state_dir=tmp_path, cache_dir=tmp_path / "cache").give_to_run_user(tmp_path / "kafka")

    assert not checkpoint.exists()
    assert chowned == ["kafka", "node-2", "node-2", "meta.properties"]


def test_a_pid_file_records_the_kernels_start_ticks(tmp_path: Path) -> None:
    """The unit of `/proc/<pid>/stat` field 22, so pid files written before psutil stay valid."""
    from steam_devstack.process import start_ticks

    ticks = int(Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()[19])
    assert start_ticks(psutil.Process()) == ticks
    proc = _managed(tmp_path)
    proc.pid_file.write_text(json.dumps({"pid": os.getpid(), "start": ticks}))
    assert proc.pid() == os.getpid()


def test_a_process_started_by_a_launcher_is_adopted_and_stopped(tmp_path: Path) -> None:
    """`pg_ctl` forks the server and exits: the stack records and stops that grandchild."""
    from steam_devstack.process import process_tree

    # The server must not hold the launcher's output pipes, or `run` would wait for it to exit.
    script = "import subprocess as s; print(s.Popen(['setsid', 'sleep', '300'], stdout=s.DEVNULL).pid)"
    launcher = subprocess.run(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, check=True, timeout=30
    )
    pid = int(launcher.stdout)
    proc = _managed(tmp_path)
    try:
        assert poll(lambda: os.getpgid(pid) == pid, timeout=5, interval=0.05)  # setsid has run
        proc.adopt(pid)
        assert proc.pid() == pid and process_tree(pid)[0].pid == pid
        assert proc.stop(timeout=5) is True
        assert not group_alive(pid) and proc.pid() is None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_kill_all_kills_a_tree_whose_children_left_the_group_and_spares_the_dead() -> None:
    from steam_devstack.process import is_alive, kill_all, process_tree

    script = "import subprocess, time; subprocess.Popen(['setsid', 'sleep', '300']); time.sleep(300)"
    parent = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        assert poll(lambda: len(process_tree(parent.pid)) == 2, timeout=10, interval=0.05)
        tree = process_tree(parent.pid)
        assert kill_all(tree + tree, grace=0.2) == tree  # each once, the parent first
        assert not [p for p in tree if is_alive(p)]
        assert kill_all(tree) == []
    finally:
        parent.kill()
        parent.wait()


def test_poll_is_bounded_and_reports_while_waiting() -> None:
    waited: list[float] = []
    started = time.monotonic()
    assert poll(lambda: False, timeout=0.3, interval=0.05, on_wait=waited.append) is False
    assert 0.3 <= time.monotonic() - started < 2
    assert waited and waited == sorted(waited)
    answers = iter([False, False, True])
    assert poll(lambda: next(answers), timeout=5, interval=0.01) is True


def test_wait_until_says_what_it_waited_for_how_long_and_where_the_log_is() -> None:
    with pytest.raises(StackError, match=r"^kafka: not ready after 0s\. See /x/kafka\.log$"):
        wait_until(lambda: False, what="kafka", timeout=0.2, interval=0.05, log_hint="See /x/kafka.log")
    started = time.monotonic()
    with pytest.raises(StackError, match=r"^s3: the process exited after 0s, before becoming ready\. See"):
        wait_until(lambda: False, what="s3", timeout=30, alive=lambda: False, log_hint="See /x/s3.log")
    assert time.monotonic() - started < 5  # a dead server fails at once, not after the timeout
    wait_until(lambda: True, what="es", timeout=0.1)


def test_wait_until_does_not_retry_an_error_of_the_check() -> None:
    calls: list[int] = []

    def broken() -> bool:
        calls.append(1)
        raise ValueError("bad config")

    with pytest.raises(ValueError, match="bad config"):
        wait_until(broken, what="x", timeout=30)
    assert calls == [1]


def test_postgres_options_survive_the_shell_pg_ctl_runs_them_through() -> None:
    from steam_devstack.services.postgres_tools import SERVER_SETTINGS, server_options

    options = server_options("127.0.0.1", 15432, "", SERVER_SETTINGS)
    argv = shlex.split(options)
    assert argv[:6] == ["-h", "127.0.0.1", "-p", "15432", "-k", ""]  # "" = no Unix socket
    assert "log_line_prefix=%m [%p] %q%u@%d " in argv
    assert len(argv) == 6 + 2 * len(SERVER_SETTINGS)


def test_postmaster_pid_ignores_a_stale_lock_file(tmp_path: Path) -> None:
    """A lock file left by a crashed server may name a pid that now belongs to someone else."""
    from steam_devstack.services.postgres_tools import postmaster_pid

    assert postmaster_pid(tmp_path, started_after=0) is None  # no lock file
    (tmp_path / "postmaster.pid").write_text(f"{os.getpid()}\n{tmp_path}\n")
    assert postmaster_pid(tmp_path, started_after=0) == os.getpid()
    assert postmaster_pid(tmp_path, started_after=time.time() + 60) is None
