"""`make dev`: Dagster's webserver and daemon on a code server that comes back by itself.

`dagster dev -w <workspace>` runs the webserver and the daemon; the workspace names the code
location as a `grpc_server` (same location name as `workspace.yaml`, so schedule and sensor state
is shared) served by a `SupervisedCodeServer` this process keeps alive. `dagster dev` exits when
its daemon dies (a crash, an OOM kill): it is started again, after a short pause, so schedules and
sensors tick again without a person, while the code server and its runs carry on; a `dagster dev`
that keeps dying (`DevRestartPolicy`: more restarts than allowed within a window) ends this command
with its exit code instead of looping. Ctrl-C (or SIGTERM) stops `dagster dev` first, then the code
server.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from steam_devstack.code_server import CodeLocation, SupervisedCodeServer, SupervisionPolicy
from steam_devstack.paths import REPO_ROOT

#: How long `dagster dev` may take to stop its webserver and daemon after Ctrl-C.
DAGSTER_DEV_STOP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class DevRestartPolicy:
    """When a `dagster dev` that exited on its own is started again."""

    #: Pause before a restart (its ports are released, a crash loop does not spin).
    delay_s: float = 5.0
    #: At most this many restarts within `window_s`; one more exit ends `steam-platform dev`.
    max_restarts: int = 5
    window_s: float = 600.0


def keep_running(
    start: Callable[[], subprocess.Popen[bytes]],
    policy: DevRestartPolicy,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> int:
    """Run `start()`'s process, starting it again each time it exits, until it has exited more than
    `policy.max_restarts` times within `policy.window_s`; returns its last exit code."""
    restarts: deque[float] = deque()
    while True:
        code = start().wait()
        now = time.monotonic()
        while restarts and now - restarts[0] > policy.window_s:
            restarts.popleft()
        if len(restarts) >= policy.max_restarts:
            log(
                f"dagster dev exited with {code} after {len(restarts)} restarts "
                f"in {policy.window_s:.0f} s: giving up"
            )
            return code
        restarts.append(now)
        log(
            f"dagster dev exited with {code} (its daemon or webserver died): "
            f"starting it again in {policy.delay_s:.0f} s"
        )
        time.sleep(policy.delay_s)


def dagster_dev_command(workspace: Path, host: str, port: int) -> Sequence[str]:
    """`dagster dev` on `workspace` (the venv's `dagster`)."""
    dagster = str(Path(sys.executable).with_name("dagster"))
    return [dagster, "dev", "-w", str(workspace), "-h", host, "-p", str(port)]


def run_dev(
    *,
    host: str,
    port: int,
    code_server_port: int,
    log_dir: Path,
    policy: SupervisionPolicy | None = None,
    restart_policy: DevRestartPolicy | None = None,
) -> int:
    """Run the supervised code server and `dagster dev` (started again when it exits, see
    `DevRestartPolicy`) until Ctrl-C or SIGTERM, or until `dagster dev` keeps dying; returns
    `dagster dev`'s exit code."""
    location = CodeLocation(port=code_server_port, host=host)
    server = SupervisedCodeServer(
        location, log_file=log_dir / "code-server.log", policy=policy or SupervisionPolicy()
    )
    stop = threading.Event()
    # SIGTERM (a supervisor, `kill`) ends the run like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: signal.raise_signal(signal.SIGINT))
    with tempfile.TemporaryDirectory(prefix="steam-dev-") as tmp:
        workspace = location.write_workspace(Path(tmp) / "workspace.yaml")
        server.start()
        watcher = threading.Thread(target=server.supervise, args=(stop,), name="code-server", daemon=True)
        watcher.start()
        current: list[subprocess.Popen[bytes]] = []  # the running `dagster dev`, stopped on the way out
        command = dagster_dev_command(workspace, host, port)

        def start() -> subprocess.Popen[bytes]:
            current[:] = [subprocess.Popen(command, cwd=REPO_ROOT)]
            return current[0]

        try:
            return keep_running(start, restart_policy or DevRestartPolicy())
        except KeyboardInterrupt:
            return 130
        finally:
            stop.set()
            if current:
                _stop_dagster_dev(current[0])
            watcher.join(SupervisionPolicy().request_timeout_s * 3)
            server.stop()


def _stop_dagster_dev(dev: subprocess.Popen[bytes]) -> None:
    """Interrupt `dagster dev` (it stops its webserver and daemon), kill it if it hangs."""
    if dev.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            dev.send_signal(signal.SIGINT)
    try:
        dev.wait(DAGSTER_DEV_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        dev.kill()
        dev.wait()
