"""A fork server for the Spark Connect server's streaming Python workers: bronze's query starts ~1 s sooner.

For every streaming query with a `foreachBatch` function (each bronze landing), Spark Connect starts
a new Python worker and waits for it before the query runs: a fresh interpreter importing PySpark's
Connect client (pandas, pyarrow, gRPC) and the function's modules, ~1 s on two cores, paid by every
lake run (`benchmarks/RESULTS.md`). Spark keeps a daemon for its UDF workers but not for these.

This process imports all that once, next to the server, and forks a ready copy per worker:
`streaming/worker_launcher.py` (the server's `PYSPARK_PYTHON`) connects to its Unix socket and sends
the standard streams, environment and folder Spark gave it. For each request the server forks a
monitor, which forks the worker, tells the launcher the worker's pid and, when it ends, its exit
status. The worker takes the launcher's streams, environment and folder, and runs the module as
`python -m` would.

Why it is safe to fork here: the server imports modules and starts no thread of its own (numpy's
BLAS pool and pyarrow's allocator thread handle fork themselves; gRPC opens no channel until the
worker connects back to the Connect server). It serves only the modules the launcher names
(`FORKED_MODULES`), on a socket only its owner may open, and ends once the process that started it
(the Connect server) is gone.

    python -m streaming.worker_forkserver SOCKET_PATH
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import runpy
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from streaming.environment import adopt_environment
from streaming.worker_launcher import FORKED_MODULES, HEADER

#: Imported before any fork: PySpark's Connect worker (pandas, pyarrow, gRPC) and the platform
#: modules its pickled `foreachBatch` functions refer to.
PRELOAD = (*sorted(FORKED_MODULES), "streaming.bronze_connect")
#: How often the server checks that the process that started it is still there.
PARENT_CHECK_S = 1.0
LAUNCHER_FILE = Path(__file__).with_name("worker_launcher.py")
SOCKET_NAME = "pyfork.sock"
#: The longest path a Unix socket may have on Linux (108 bytes with the terminating NUL), with room.
MAX_SOCKET_PATH = 100
#: The folder the server started in (first on its `sys.path`, as `python -m` puts it).
STARTED_IN = os.getcwd()
#: Starts each line the server writes to its log (the Connect server's).
LOG_PREFIX = "worker_forkserver:"


def preload() -> None:
    """Import what every worker needs, once, before any fork."""
    for module in PRELOAD:
        importlib.import_module(module)


def launcher_script(folder: Path, socket_path: Path, python: str) -> Path:
    """Write the executable `PYSPARK_PYTHON` for the server: the launcher, asking `socket_path`."""
    script = folder / "python-worker"
    command = " ".join(shlex.quote(str(part)) for part in (python, "-I", "-S", LAUNCHER_FILE, socket_path))
    script.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
    script.chmod(0o700)
    return script


def start(folder: Path, python: str) -> Path:
    """Start a fork server for the calling process (it ends when that process is gone) and return the
    launcher to give Spark as `PYSPARK_PYTHON`. The socket lives in `folder` (private to the server),
    or in a private temporary folder of its own when that path would be too long for a Unix socket."""
    socket_path = folder / SOCKET_NAME
    if len(str(socket_path).encode()) > MAX_SOCKET_PATH:
        socket_path = Path(tempfile.mkdtemp(prefix="steam-pyfork-")) / SOCKET_NAME
    subprocess.Popen(
        [python, "-m", "streaming.worker_forkserver", str(socket_path)], stdin=subprocess.DEVNULL
    )
    return launcher_script(folder, socket_path, python)


def serve(socket_path: Path, parent_pid: int) -> None:
    """Accept launchers until `parent_pid` is gone; each request is served by a forked monitor."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # monitors are reaped by the kernel
    with contextlib.suppress(FileNotFoundError):
        socket_path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(socket_path))
    socket_path.chmod(0o600)
    mine = socket_path.stat().st_ino
    listener.listen(16)
    listener.settimeout(PARENT_CHECK_S)
    print(f"{LOG_PREFIX} serving {socket_path} for pid {parent_pid}", file=sys.stderr, flush=True)
    try:
        while os.getppid() == parent_pid:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            sys.stdout.flush()
            sys.stderr.flush()
            if os.fork() == 0:
                listener.close()
                _monitor(conn)
            conn.close()
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            if socket_path.stat().st_ino == mine:  # not the socket of a server started after this one
                socket_path.unlink()
        if socket_path.parent.name.startswith("steam-pyfork-"):  # the temporary folder `start` made
            with contextlib.suppress(OSError):
                socket_path.parent.rmdir()


def _default_signals() -> None:
    """The signal handling a fresh interpreter has (the server's own is for the server only)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _monitor(conn: socket.socket) -> None:
    """Start one worker for the launcher on `conn` and report its pid and exit status (never returns)."""
    _default_signals()
    code = 0
    try:
        conn.settimeout(10)
        request, streams = _receive(conn)
        if request["module"] not in FORKED_MODULES:
            raise ValueError(f"not a worker this server starts: {request['module']!r}")
        worker = os.fork()
        if worker == 0:
            conn.close()
            _run_worker(request, streams)
        for fd in streams:
            os.close(fd)
        conn.sendall(f"pid {worker}\n".encode())
        print(f"{LOG_PREFIX} started {request['module']} as pid {worker}", file=sys.stderr, flush=True)
        _, status = os.waitpid(worker, 0)
        conn.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
    except Exception:  # the launcher then runs the interpreter itself (or reports the worker gone)
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """The launcher's request and its three standard streams."""
    header, streams, _, _ = socket.recv_fds(conn, HEADER.size, 3)
    if len(header) != HEADER.size or len(streams) != 3:
        raise ValueError("the launcher's request came without its three standard streams")
    (size,) = HEADER.unpack(header)
    body = bytearray()
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise ValueError("the launcher's request ended early")
        body += chunk
    return json.loads(body), streams


def _run_worker(request: dict[str, Any], streams: list[int]) -> None:
    """Become the worker `python -m MODULE` would have been for the launcher (never returns)."""
    code: int = 0
    try:
        for target, fd in zip((0, 1, 2), streams, strict=True):
            os.dup2(fd, target)
            os.close(fd)
        _default_signals()
        env: dict[str, str] = request["env"]
        adopt_environment(env)
        os.chdir(request["cwd"])
        if env.get("PYTHONUNBUFFERED"):  # read at start-up by a fresh interpreter: Spark's log gets each line
            for stream in (sys.stdout, sys.stderr):
                stream.reconfigure(write_through=True)  # type: ignore[union-attr]
        if sys.path and sys.path[0] == STARTED_IN:  # `python -m` puts its own folder first
            sys.path[0] = request["cwd"]
        extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p not in sys.path]
        sys.path[:0] = extra
        sys.argv = [request["module"]]
        # Run the module's code afresh as `__main__` (its imports stay loaded): without its preloaded
        # copy in `sys.modules`, as `python -m` finds it, so runpy has nothing to warn about.
        sys.modules.pop(request["module"], None)
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def main(argv: list[str]) -> None:
    (path,) = argv
    parent = os.getppid()
    if parent == 1:  # started by a process already gone: nobody to serve
        return
    # A stop signal (the server's process group stopped) ends the loop, so the socket is removed.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    preload()
    serve(Path(path), parent)


if __name__ == "__main__":
    main(sys.argv[1:])
