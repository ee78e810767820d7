"""`make dev`: Dagster's webserver and daemon on a code server that comes back by itself.

`dagster dev -w <workspace>` runs the webserver and the daemon; the workspace names the code
location as a `grpc_server` (same location name as `workspace.yaml`, so schedule and sensor state
is shared) served by a `SupervisedCodeServer` this process keeps alive. Ctrl-C (or SIGTERM) stops
`dagster dev` first, then the code server.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from steam_devstack.code_server import CodeLocation, SupervisedCodeServer, SupervisionPolicy
from steam_devstack.paths import REPO_ROOT

#: How long `dagster dev` may take to stop its webserver and daemon after Ctrl-C.
DAGSTER_DEV_STOP_TIMEOUT_S = 60.0


def run_dev(
    *,
    host: str,
    port: int,
    code_server_port: int,
    log_dir: Path,
    policy: SupervisionPolicy | None = None,
) -> int:
    """Run the supervised code server and `dagster dev` until `dagster dev` exits, Ctrl-C or SIGTERM;
    returns `dagster dev`'s exit code."""
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
        dev: subprocess.Popen[bytes] | None = None
        try:
            dev = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("dagster")),
                    "dev",
                    "-w",
                    str(workspace),
                    "-h",
                    host,
                    "-p",
                    str(port),
                ],
                cwd=REPO_ROOT,
            )
            return dev.wait()
        except KeyboardInterrupt:
            return 130
        finally:
            stop.set()
            if dev is not None:
                _stop_dagster_dev(dev)
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
