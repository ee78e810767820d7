"""The Python interpreter the Spark Connect server starts its Python workers with (`PYSPARK_PYTHON`).

Spark Connect starts a fresh Python for every streaming query's `foreachBatch` function (bronze's
landing), which imports PySpark's Connect client (pandas, pyarrow, gRPC: ~1 s on two cores) before
the query may run its first batch. This launcher asks the server's fork server
(`streaming/worker_forkserver.py`, which imported all that once) for a forked copy instead, hands it
this process's standard streams, environment and folder, and stands in for it: it exits with the
worker's exit status, and a SIGTERM or SIGINT Spark sends it reaches the worker.

Any other module (Spark's UDF daemon, its plain workers), and every case where the fork server does
not answer, runs as before: this process becomes the real interpreter (`os.execv`). So a dead or
missing fork server costs the ~1 s again, never a query.

Run as `python -I -S worker_launcher.py SOCKET -m MODULE`: the standard library only, so it starts in
a few milliseconds.
"""

import contextlib
import io
import json
import os
import signal
import socket
import struct
import sys
import time

#: PySpark's worker for a streaming query's `foreachBatch` function (bronze's landing on Connect).
FOREACH_BATCH_WORKER = "pyspark.sql.connect.streaming.worker.foreach_batch_worker"
#: The workers the fork server starts (one per streaming query; Spark starts no daemon for them).
FORKED_MODULES = frozenset({FOREACH_BATCH_WORKER, "pyspark.sql.connect.streaming.worker.listener_worker"})
#: How long to wait for the fork server to answer before starting the interpreter instead.
CONNECT_TIMEOUT_S = 2.0
HEADER = struct.Struct("!I")


def run_interpreter(args: list[str]) -> None:
    """Become the real interpreter with `args` (what Spark asked for)."""
    os.execv(sys.executable, [sys.executable, *args])


def request_body(module: str) -> bytes:
    """What the fork server needs to start `module` as this process would have."""
    return json.dumps({"module": module, "env": dict(os.environ), "cwd": os.getcwd()}).encode()


def ask_fork_server(path: str, module: str) -> socket.socket | None:
    """Send the request with this process's standard streams; None when the server does not answer."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(CONNECT_TIMEOUT_S)
        conn.connect(path)
        body = request_body(module)
        socket.send_fds(conn, [HEADER.pack(len(body))], [0, 1, 2])
        conn.sendall(body)
        return conn
    except OSError:
        conn.close()
        return None


def read_line(reader: "io.BufferedReader") -> str:  # a socket file
    return reader.readline().decode().strip()


def stand_in(conn: socket.socket) -> int | None:
    """Wait for the forked worker to end, forwarding SIGTERM/SIGINT to it; returns the status to exit
    with (128 + N for a worker ended by signal N), None when no worker was started."""
    conn.settimeout(None)
    reader = conn.makefile("rb")
    first = read_line(reader)
    if not first.startswith("pid "):
        return None
    pid = int(first.split()[1])

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    last = read_line(reader)
    if last.startswith("exit "):
        code = int(last.split()[1])
        return code if code >= 0 else 128 - code
    while _alive(pid):  # the fork server's side went away first: wait for the worker itself
        time.sleep(0.5)
    return 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str]) -> None:
    path, args = argv[0], argv[1:]
    if len(args) == 2 and args[0] == "-m" and args[1] in FORKED_MODULES:
        conn = ask_fork_server(path, args[1])
        if conn is not None:
            status = stand_in(conn)
            if status is not None:
                sys.exit(status)
    run_interpreter(args)


if __name__ == "__main__":
    main(sys.argv[1:])
