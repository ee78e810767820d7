"""Start, find, measure and stop the stack's server processes.

Every server runs in a new session (its own process group) so that `stack down` can stop it and
every child it spawned, and nothing else. The pid file stores the pid and the process's start time
(clock ticks since boot), so a recycled pid is never mistaken for our server.

What the kernel knows about a process (parent, state, start time, resident memory, children) comes
from `psutil`, the maintained process library, instead of parsing `/proc/<pid>/stat` by hand and
probing with `os.kill(pid, 0)`: it copes with processes that vanish mid-read and with zombies, and a
`psutil.Process` remembers its start time, so it never signals a recycled pid. psutil has no notion
of process groups, so those stay with the `os` module (`os.getpgid`, `os.killpg`: a group signal
also reaches a child forked a moment ago). Waits are bounded polls (`health.poll`, tenacity).
A process's peak resident memory (`VmHWM`) is the one figure psutil does not expose: it is read
from `/proc/<pid>/status`.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psutil

from steam_devstack.health import poll
from steam_devstack.paths import make_private, private_dir, write_private

T = TypeVar("T")
R = TypeVar("R")

#: What servers the stack launches create is theirs alone: files 0600, folders 0700.
SERVER_UMASK = 0o077

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def start_ticks(proc: psutil.Process) -> int:
    """When `proc` started, in clock ticks since boot (the kernel's own unit, as pid files record it).

    psutil reports the start as wall-clock time (boot time + ticks); subtracting the boot time read
    at the same moment gives back the ticks, which a clock change (NTP) does not move.
    """
    return round((proc.create_time() - psutil.boot_time()) * _CLOCK_TICKS)


def is_alive(proc: psutil.Process) -> bool:
    """True while this very process (not a recycled pid) runs and is not a zombie."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _find(pid: int, ticks: object) -> psutil.Process | None:
    """The live process `pid` if it started at `ticks`, else None (gone, zombie or pid reused)."""
    try:
        proc = psutil.Process(pid)
        if start_ticks(proc) != ticks or proc.status() == psutil.STATUS_ZOMBIE:
            return None
    except psutil.Error:
        return None
    return proc


def user_env(env: Mapping[str, str] | None, user: str | None) -> dict[str, str]:
    """This process's environment plus `env`, with HOME/USER/LOGNAME of `user` when one is given."""
    full = dict(os.environ)
    full.update(env or {})
    if user:
        full.update({"HOME": pwd.getpwnam(user).pw_dir, "USER": user, "LOGNAME": user})
    return full


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
        """Launch `argv` detached in a new process group, output appended to the log file.

        The server runs with umask 077 and its log file is 0600 in a private folder: logs and data
        carry endpoints, payloads and, in a stack trace, sometimes a credential.
        """
        private_dir(self.log_file.parent)
        fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        make_private(self.log_file)  # a log from an older stack may be 0644
        with os.fdopen(fd, "ab") as log:
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=user_env(env, user),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
                group=pwd.getpwnam(user).pw_gid if user else None,
                extra_groups=[] if user else None,
                umask=SERVER_UMASK,
            )
        self.adopt(proc.pid)
        return proc.pid

    def adopt(self, pid: int) -> None:
        """Record `pid` (started here or by a launcher such as `pg_ctl`) as this server's process."""
        try:
            ticks: int | None = start_ticks(psutil.Process(pid))
        except psutil.Error:  # already gone: the pid file then never matches a live process
            ticks = None
        private_dir(self.pid_file.parent)
        write_private(self.pid_file, json.dumps({"pid": pid, "start": ticks}))

    def pid(self) -> int | None:
        """The live pid of this server, or None when it is not running (stale pid files ignored)."""
        try:
            data = json.loads(self.pid_file.read_text())
            pid = int(data["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return pid if _find(pid, data.get("start")) is not None else None

    def is_running(self) -> bool:
        """True when the process recorded in the pid file is alive."""
        return self.pid() is not None

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM the whole process group, SIGKILL it after `timeout`; True if something was stopped."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        for sig, wait_s in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)
            if poll(lambda: not group_alive(pid), timeout=wait_s, interval=0.1):
                break
        # Reap if we are the parent (tests start and stop in one process).
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        self.pid_file.unlink(missing_ok=True)
        return True


def concurrently(work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`work(item)` for every item at the same time; results in the order of `items`.

    Stopping is waiting: a server's grace period, a KRaft node waiting for a quorum whose other
    members are stopping too. Stopped one after the other, three Kafka nodes took ~35 s (the last
    one waits for a controller that is gone, until it is killed); stopped together, one grace period.
    """
    if len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(work, items))


def group_alive(pgid: int) -> bool:
    """True while any non-zombie process of process group `pgid` exists."""
    for pid in psutil.pids():
        with contextlib.suppress(OSError, psutil.Error):
            if os.getpgid(pid) == pgid and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return True
    return False


def process_tree(root: int | psutil.Process) -> list[psutil.Process]:
    """`root` first, then all its descendants now (empty when `root` is gone or its pid was reused)."""
    try:
        proc = root if isinstance(root, psutil.Process) else psutil.Process(root)
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def kill_all(
    procs: Iterable[psutil.Process], *, grace: float = 0.0, timeout: float = 10.0
) -> list[psutil.Process]:
    """Give `procs` `grace` s to exit, SIGKILL those left in the given order, wait until they are gone.

    Returns the processes that had to be killed. A recycled pid is never signalled (psutil checks).
    """
    procs = list({proc.pid: proc for proc in procs}.values())  # once each, first place kept
    if grace > 0:
        poll(lambda: not any(is_alive(p) for p in procs), timeout=grace, interval=0.1)
    victims = [proc for proc in procs if is_alive(proc)]
    for proc in victims:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    poll(lambda: not any(is_alive(p) for p in victims), timeout=timeout, interval=0.1)
    return victims


@dataclass(frozen=True)
class ProcInfo:
    """What the stack uses to find, measure and stop its servers, for one process."""

    ppid: int
    state: str  # psutil's status: "running", "sleeping", "zombie", ...
    pgid: int
    start_ticks: int
    rss_bytes: int

    @property
    def alive(self) -> bool:
        """False for a zombie (exited, not yet reaped)."""
        return self.state != psutil.STATUS_ZOMBIE

    @property
    def rss_pages(self) -> int:
        return self.rss_bytes // _PAGE_SIZE


def process_table() -> dict[int, ProcInfo]:
    """Every process on the machine now, zombies included (one consistent-enough snapshot)."""
    table: dict[int, ProcInfo] = {}
    for pid in psutil.pids():
        with contextlib.suppress(OSError, psutil.Error):  # gone between listing and reading
            proc = psutil.Process(pid)
            with proc.oneshot():
                table[pid] = ProcInfo(
                    ppid=proc.ppid(),
                    state=proc.status(),
                    pgid=os.getpgid(pid),
                    start_ticks=start_ticks(proc),
                    rss_bytes=proc.memory_info().rss,
                )
    return table


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
    table = process_table()
    return sum(table[pid].rss_bytes for pid in service_pids(root, table))


def peak_rss_mib(pid: int) -> float:
    """A live process's peak resident memory so far (`VmHWM`), in MiB; 0 when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields.get("VmHWM", "0 kB").split()[0]) / 1024
