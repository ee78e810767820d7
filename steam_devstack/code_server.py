"""The code server of `make dev`, kept alive: restarted when it dies or stops answering.

`dagster dev` (and `dg dev`, which runs it) starts the code location as two processes: a proxy
(`dagster code-server start`) and, under it, the process that loads the code, answers the daemon
and the webserver and launches run workers (`dagster api grpc`). Dagster 1.13 restarts the proxy
when it exits (every 5 s, `dagster/_cli/proxy_server_manager.py`), but nothing restarts the inner
process: SIGKILL it (the OOM killer, a stray `kill`) and the proxy keeps its port, answers every
call with "Could not reach user code server", and the location stays in error (no schedule or
sensor tick, no run start) until a person presses Reload.

So `make dev` runs the code server itself (`dagster code-server start` on a fixed port, listed as a
`grpc_server` in the workspace that `dagster dev` gets) and checks it every few seconds: if the
process is gone, or it has been up but unreachable for several checks in a row (its inner process
died), the proxy process is killed (not its group: run workers it launched keep running and finish
their runs) and started again on the same port. The webserver and the daemon notice the new server
id within seconds (their gRPC watch threads) and reload the location; the daemon also refreshes its
workspace every 60 s whatever happens. A location that fails to load (a syntax error) answers with
its error: that is for the person editing to fix, not a reason to restart.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import yaml
from dagster._core.errors import DagsterUserCodeUnreachableError
from dagster._grpc.client import DagsterGrpcClient

from steam_devstack.paths import REPO_ROOT
from steam_platform.monitoring.code_servers import code_server_id

logger = logging.getLogger("steam_devstack.code_server")

#: The code location's name everywhere (workspace.yaml, dg, compose): schedule and sensor state is
#: kept per location name in the instance.
LOCATION_NAME = "steam_platform"
#: The port `steam-platform dev` serves the code location on unless told otherwise.
DEFAULT_CODE_SERVER_PORT = 4000


@dataclass(frozen=True)
class CodeLocation:
    """What the code server loads and where it listens."""

    port: int
    host: str = "127.0.0.1"
    module: str = "steam_platform.definitions"
    attribute: str = "defs"
    location_name: str = LOCATION_NAME
    working_directory: Path = REPO_ROOT

    def workspace(self) -> dict[str, object]:
        """The workspace (as `workspace.yaml` holds it) that points Dagster at this code server."""
        server = {"host": self.host, "port": self.port, "location_name": self.location_name}
        return {"load_from": [{"grpc_server": server}]}

    def write_workspace(self, path: Path) -> Path:
        """Write `workspace()` to `path` (for `dagster dev -w` and `dagster-daemon run -w`)."""
        path.write_text(yaml.safe_dump(self.workspace(), sort_keys=False))
        return path


@dataclass(frozen=True)
class SupervisionPolicy:
    """How often the code server is checked and how long it may be unreachable or starting."""

    check_interval_s: float = 5.0
    #: Consecutive failed checks of a running server before it is restarted (a busy server can
    #: miss one check; a dead inner process misses every one).
    failures_before_restart: int = 3
    #: How long a (re)started server may take to load the code before it is restarted again.
    startup_timeout_s: float = 300.0
    #: How long one check waits for the server's answer.
    request_timeout_s: int = 10


@dataclass
class SupervisedCodeServer:
    """`dagster code-server start` for one code location, restarted when it dies or hangs."""

    location: CodeLocation
    log_file: Path
    env: Mapping[str, str] | None = None
    policy: SupervisionPolicy = field(default_factory=SupervisionPolicy)
    restarts: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _started_at: float = field(default=0.0, init=False, repr=False)
    _answered_since_start: bool = field(default=False, init=False, repr=False)
    _failures: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    #: The code processes (`dagster api grpc`) under the proxy when it last answered: killed with
    #: the proxy on a restart, or they would outlive it (they ignore their heartbeat timeout).
    _code_processes: list[psutil.Process] = field(default_factory=list, init=False, repr=False)

    @property
    def pid(self) -> int | None:
        """The proxy process's pid while it runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def ready(self) -> bool:
        """Whether the server answered a check since it was last (re)started."""
        return self._answered_since_start

    def argv(self) -> list[str]:
        """The command line of the code server."""
        loc = self.location
        return [
            str(Path(sys.executable).with_name("dagster")),
            "code-server",
            "start",
            "-m",
            loc.module,
            "-a",
            loc.attribute,
            "--working-directory",
            str(loc.working_directory),
            "--location-name",
            loc.location_name,
            "-h",
            loc.host,
            "-p",
            str(loc.port),
        ]

    def start(self) -> None:
        """Start the code server in a session of its own (Ctrl-C in the terminal does not reach it:
        `stop` ends it after Dagster's webserver and daemon)."""
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **(self.env or {})}
        with open(self.log_file, "ab") as log:
            self._proc = subprocess.Popen(
                self.argv(),
                cwd=self.location.working_directory,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._started_at = time.monotonic()
        self._answered_since_start = False
        self._failures = 0
        logger.info("code server %s started (pid %s)", self.location.location_name, self._proc.pid)

    def answers(self) -> bool:
        """Whether the code server answers for its code: its server id, or else the load error of
        code that does not import (unreachable only when the server or its inner process is down)."""
        if code_server_id(self.location.host, self.location.port, self.policy.request_timeout_s) is not None:
            return True
        try:
            # a load error comes back as a value, not an exception
            DagsterGrpcClient(port=self.location.port, host=self.location.host).list_repositories()
        except DagsterUserCodeUnreachableError:
            return False
        return True

    def check(self) -> str | None:
        """One supervision step: restart the server if it died or stopped answering. Returns why it
        was restarted, or None when nothing was done."""
        with self._lock:
            proc = self._proc
            if proc is None:
                return None  # stopped
            reason = self._restart_reason(proc)
            if reason is None:
                return None
            logger.warning("code server %s: %s; restarting it", self.location.location_name, reason)
            self._kill_proxy(proc)
            self._start_locked()
            self.restarts += 1
            return reason

    def _restart_reason(self, proc: subprocess.Popen[bytes]) -> str | None:
        code = proc.poll()
        if code is not None:
            return f"process {proc.pid} exited with {code}"
        if self.answers():
            self._answered_since_start = True
            self._failures = 0
            self._code_processes = _code_processes_under(proc.pid)
            return None
        if not self._answered_since_start:
            waited = time.monotonic() - self._started_at
            if waited < self.policy.startup_timeout_s:
                return None  # still loading the code
            return f"not answering {waited:.0f} s after it started"
        self._failures += 1
        if self._failures < self.policy.failures_before_restart:
            return None
        return f"unreachable for {self._failures} checks in a row (its code process died)"

    def _kill_proxy(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the proxy (its port must be free for the new one) and the code processes it ran;
        the run workers launched under them are left to finish their runs."""
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        for code in self._code_processes:
            with contextlib.suppress(psutil.Error):
                code.kill()  # psutil checks the start time: a recycled pid is never signalled
        self._code_processes = []

    def supervise(self, stop: threading.Event) -> None:
        """Check every `policy.check_interval_s` until `stop` is set."""
        while not stop.wait(self.policy.check_interval_s):
            try:
                self.check()
            except Exception:  # a failed check must not end supervision
                logger.exception("code server check failed")

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM the code server's whole group (proxy, code process, run workers still running),
        SIGKILL after `timeout_s`."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return
        for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(wait_s)
                break
            except subprocess.TimeoutExpired:
                continue


def _code_processes_under(proxy_pid: int) -> list[psutil.Process]:
    """The `dagster api grpc` processes the code server proxy `proxy_pid` runs (none if it is gone)."""
    try:
        children = psutil.Process(proxy_pid).children()
    except psutil.Error:
        return []
    found = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            if "grpc" in child.cmdline():
                found.append(child)
    return found
