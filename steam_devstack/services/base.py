"""What every local-stack server provides: install, start, health, endpoints, stop."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import stat
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from steam_devstack.health import port_open
from steam_devstack.paths import make_private, private_dir
from steam_devstack.process import ManagedProcess, concurrently

RUN_USER = "steamstack"


@dataclass
class StackContext:
    """Settings shared by every service of one stack: folders, chosen ports, cluster size."""

    state_dir: Path
    cache_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    brokers: int = 1

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_user(self) -> str | None:
        """Servers refuse to run as root (PostgreSQL, Elasticsearch): as root, use a service user."""
        return RUN_USER if os.geteuid() == 0 else None

    def run_as(self) -> dict[str, Any]:
        """`subprocess` keyword arguments that drop to the service user (uid, gid, no root groups)."""
        user = self.run_user
        if user is None:
            return {}
        ensure_run_user()
        return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}

    def data_dir(self, service: str) -> Path:
        """The service's data folder, created private (0700) and owned by the user the service runs as.

        `data/` (and the state folder) keep only the search bit the service user needs to pass.
        """
        private_dir(self.state_dir)
        path = private_dir(private_dir(self.state_dir / "data") / service)
        self.give_to_run_user(path)
        if self.run_user is not None:
            _make_traversable(path.parent)
        return path

    def make_state_private(self) -> None:
        """Strip group/other access from everything in the state folder (folders keep a search bit
        they have): what root or a tool run before the servers wrote with a looser umask (Kafka's
        storage format, initdb's marker) ends up 0600/0700 like what the servers write (umask 077)."""
        service_uid = pwd.getpwnam(self.run_user).pw_uid if self.run_user is not None else None
        for root, dirs, files in os.walk(self.state_dir):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                with contextlib.suppress(FileNotFoundError):  # a server renamed it meanwhile
                    path = Path(name)
                    # Only a folder the service user passes but does not own needs the search bit.
                    passed = service_uid is not None and path.lstat().st_uid != service_uid
                    make_private(path, keep_search=passed)

    def expose_to_run_user(self, *paths: Path) -> None:
        """Let the service user reach `paths` (jars in the cache, configs in the checkout).

        A checkout in a 0700 folder (`mktemp -d`, a home directory) hides the jars and configs the
        servers load; only the search (x) bit is added to the folders on the way, nothing is made
        readable that was not. No-op when not root.
        """
        if self.run_user is None:
            return
        for path in paths:
            _make_traversable(path)

    def give_to_run_user(self, path: Path) -> None:
        """Hand `path` (a file, or a folder recursively) to the service user, privately: chown it
        (when root) and strip group/other access (files 0600-like, folders 0700 plus a search bit
        they had). A file handed over gets the search bit on the folders above it, so the service
        user reaches it (a log it appends to).

        The folder may belong to servers that are running (a restarted Kafka node shares `data/kafka`
        with live ones): files they rename or delete while the walk passes are skipped, not errors.
        """
        user = self.run_user
        owner = None
        if user is not None:
            ensure_run_user()
            entry = pwd.getpwnam(user)
            owner = (entry.pw_uid, entry.pw_gid)
        if not path.is_dir():
            _hand_over(str(path), owner)
            if user is not None:
                _make_traversable(path.parent)
            return
        for root, dirs, files in os.walk(path):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                _hand_over(name, owner)


def _hand_over(path: str, owner: tuple[int, int] | None) -> None:
    """chown one entry to `owner` when given (see `_chown_if_present`) and make it private: the
    service user owns it then, so a folder needs no search bit for others."""
    if owner is not None:
        _chown_if_present(path, *owner)
    with contextlib.suppress(FileNotFoundError):
        make_private(Path(path), keep_search=owner is None)


def _chown_if_present(path: str, uid: int, gid: int) -> None:
    """chown one entry; one a running server removed meanwhile (a `.tmp` checkpoint) is skipped."""
    with contextlib.suppress(FileNotFoundError):
        os.chown(path, uid, gid, follow_symlinks=False)


def _make_traversable(path: Path) -> None:
    """Let the service user reach its data folder: add only the search (x) bit where missing.

    Temporary folders (pytest's, mkdtemp's) are 0700 root; the unprivileged server could not
    open its own config files below them otherwise.
    """
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)


def ensure_run_user() -> None:
    """Create the unprivileged service user when running as root and it does not exist yet."""
    try:
        pwd.getpwnam(RUN_USER)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        subprocess.run(
            [useradd, "--system", "--create-home", "--shell", "/usr/sbin/nologin", RUN_USER],
            check=True,
        )


class Service(ABC):
    """One server of the local stack (possibly several processes, e.g. a 3-node Kafka cluster)."""

    name: str = ""
    #: Named ports this service binds, with the preferred default for a developer's stack.
    default_ports: ClassVar[dict[str, int]] = {}
    #: True when the service reads the stack's env file at start (it is written just before).
    reads_stack_env: ClassVar[bool] = False

    def __init__(self, ctx: StackContext) -> None:
        self.ctx = ctx

    def port(self, key: str) -> int:
        """The port chosen for `key` when the stack was first created."""
        return self.ctx.ports[key]

    def process(self, suffix: str = "") -> ManagedProcess:
        """The pid/log bookkeeping of this service's process (`suffix` for multi-node services)."""
        label = f"{self.name}{suffix}"
        return ManagedProcess(
            name=label,
            pid_file=self.ctx.state_dir / "pids" / f"{label}.pid",
            log_file=self.ctx.logs_dir / f"{label}.log",
        )

    def processes(self) -> list[ManagedProcess]:
        """Every process this service runs (one by default)."""
        return [self.process()]

    def is_running(self) -> bool:
        return all(p.is_running() for p in self.processes())

    def log_hint(self) -> str:
        return "See " + ", ".join(str(p.log_file) for p in self.processes())

    def ports_in_use(self) -> list[int]:
        """Ports of this service that something (not necessarily us) already listens on."""
        return [self.ctx.ports[k] for k in self.default_ports if port_open("127.0.0.1", self.ctx.ports[k])]

    @abstractmethod
    def install(self) -> None:
        """Fetch or build what the server needs into the cache; idempotent and cached."""

    @abstractmethod
    def start(self) -> None:
        """Start the server's process(es) and wait (bounded) until healthy."""

    @abstractmethod
    def healthy(self) -> bool:
        """True when the server answers its protocol, not just when the process exists."""

    @abstractmethod
    def endpoints(self) -> dict[str, str]:
        """Environment variables that point clients at this server (exported in `.stack/env`)."""

    def stop(self) -> list[str]:
        """Stop every process of this service; returns the labels that were running."""
        procs = list(reversed(self.processes()))
        stopped = concurrently(ManagedProcess.stop, procs)
        return [p.name for p, was_running in zip(procs, stopped, strict=True) if was_running]
