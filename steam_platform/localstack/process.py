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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


def _start_ticks(pid: int) -> int | None:
    """The kernel's start time of `pid` (clock ticks since boot), or None if it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime); the command name (field 2) may contain spaces, so split after ')'.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])


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


def _group_alive(pgid: int) -> bool:
    """True while any non-zombie process of process group `pgid` exists."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _process_table() -> dict[int, tuple[int, int, int]]:
    """Every live, non-zombie process: pid -> (parent pid, process group, resident pages)."""
    table: dict[int, tuple[int, int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            table[int(entry.name)] = (int(fields[1]), int(fields[2]), int(fields[21]))
    return table


def service_pids(root: int) -> set[int]:
    """`root`'s process group plus every descendant of `root`, wherever it moved.

    A server's children normally share its process group, but some leave it: every PostgreSQL
    backend calls `setsid()`. Following parent pids as well counts them all.
    """
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found = {pid for pid, (_, pgid, _) in table.items() if pgid == root}
    todo = [root, *found]
    while todo:
        pid = todo.pop()
        if pid in table:
            found.add(pid)
            todo += [c for c in children.get(pid, []) if c not in found]
    return found


def service_rss_bytes(root: int) -> int:
    """Resident memory of a server and all its processes (see `service_pids`), for `stack status`.

    Shared memory (e.g. PostgreSQL's shared buffers) counts once per process that touched it, as
    `ps` shows it: an upper bound.
    """
    page = os.sysconf("SC_PAGE_SIZE")
    table = _process_table()
    return sum(table[pid][2] * page for pid in service_pids(root) if pid in table)
