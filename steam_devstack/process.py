"""Start, find and stop one server process in its own process group, tracked by a pid file.

Every server runs in a new session (its own process group) so that `stack down` can stop it and
every child it spawned, and nothing else. The pid file stores pid and the process start time so a
recycled pid is never mistaken for our server.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


def _start_ticks(pid: int) -> int | None:
    """The kernel's start time of `pid` (clock ticks since boot), or None if it does not exist."""
    info = _read_stat(pid)
    return None if info is None else info.start_ticks


@dataclass(frozen=True)
class ManagedProcess:
    """A server process the stack started: where its pid file and log live."""

    name: str
    pid_file: Path
    log_file: Path

    def start(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        user: str | None = None,
    ) -> int:
        """Launch `argv` detached in a new process group, output appended to the log file."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        if user:
            entry = pwd.getpwnam(user)
            full_env.update({"HOME": entry.pw_dir, "USER": user, "LOGNAME": user})
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
                group=pwd.getpwnam(user).pw_gid if user else None,
                extra_groups=[] if user else None,
            )
        self.pid_file.write_text(json.dumps({"pid": proc.pid, "start": _start_ticks(proc.pid)}))
        return proc.pid

    def pid(self) -> int | None:
        """The live pid of this server, or None when it is not running (stale pid files ignored)."""
        try:
            data = json.loads(self.pid_file.read_text())
        except (OSError, ValueError):
            return None
        pid = int(data["pid"])
        ticks = _start_ticks(pid)
        if ticks is None or ticks != data.get("start"):
            return None
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return None
        except OSError:
            return None
        return pid

    def is_running(self) -> bool:
        """True when the process recorded in the pid file is alive."""
        return self.pid() is not None

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM the whole process group, SIGKILL it after `timeout`; True if something was stopped."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _group_alive(pid):
            time.sleep(0.2)
        if _group_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _group_alive(pid):
                time.sleep(0.1)
        # Reap if we are the parent (tests start and stop in one process).
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        self.pid_file.unlink(missing_ok=True)
        return True


@dataclass(frozen=True)
class ProcInfo:
    """The fields of `/proc/<pid>/stat` the stack uses to find, measure and stop its servers."""

    ppid: int
    state: str
    pgid: int
    start_ticks: int
    rss_pages: int

    @property
    def alive(self) -> bool:
        """False for a zombie (exited, not yet reaped)."""
        return self.state != "Z"


def process_table() -> dict[int, ProcInfo]:
    """Every process on the machine now, zombies included."""
    table: dict[int, ProcInfo] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (info := _read_stat(int(entry.name))) is not None:
            table[int(entry.name)] = info
    return table


def _read_stat(pid: int) -> ProcInfo | None:
    """`/proc/<pid>/stat` parsed, or None when the process does not exist (any more)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces, so split after ')'.
    fields = text.rsplit(")", 1)[1].split()
    return ProcInfo(
        ppid=int(fields[1]),
        state=fields[0],
        pgid=int(fields[2]),
        start_ticks=int(fields[19]),
        rss_pages=int(fields[21]),
    )


def descendants(roots: Iterable[int], table: Mapping[int, ProcInfo]) -> set[int]:
    """`roots` and every process below them in `table` (following parent pids)."""
    children: dict[int, list[int]] = {}
    for pid, info in table.items():
        children.setdefault(info.ppid, []).append(pid)
    found: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid in table and pid not in found:
            found.add(pid)
            todo += children.get(pid, [])
    return found


def _group_alive(pgid: int) -> bool:
    """True while any non-zombie process of process group `pgid` exists."""
    return any(info.pgid == pgid and info.alive for info in process_table().values())


def service_pids(root: int, table: Mapping[int, ProcInfo] | None = None) -> set[int]:
    """`root`'s process group plus every descendant of `root`, wherever it moved (no zombies).

    A server's children normally share its process group, but some leave it: every PostgreSQL
    backend calls `setsid()`. Following parent pids as well counts them all. `table` is a snapshot
    from `process_table()` when the caller already has one.
    """
    table = process_table() if table is None else table
    group = [pid for pid, info in table.items() if info.pgid == root]
    return {pid for pid in descendants([root, *group], table) if table[pid].alive}


def service_rss_bytes(root: int) -> int:
    """Resident memory of a server and all its processes (see `service_pids`), for `stack status`.

    Shared memory (e.g. PostgreSQL's shared buffers) counts once per process that touched it, as
    `ps` shows it: an upper bound.
    """
    page = os.sysconf("SC_PAGE_SIZE")
    table = process_table()
    return sum(table[pid].rss_pages * page for pid in service_pids(root, table))
