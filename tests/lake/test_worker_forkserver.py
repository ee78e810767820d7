"""The Connect server's fork server starts PySpark's `foreachBatch` worker ready-made, as Spark would.

The test stands where the Spark Connect server's JVM stands: it runs the launcher (the server's
`PYSPARK_PYTHON`) with `-m <PySpark's foreachBatch worker>` and the environment Spark gives a
worker, listens where that environment says, and speaks the worker's protocol (secret, pid, Python
version, session, pickled function; no batch, which needs a Connect server). What it checks:
- the worker is a fork of the fork server (not the launcher, not a fresh interpreter), with the
  launcher's environment, folder, `PYTHONPATH` and standard output, and bronze's modules already
  imported;
- a SIGTERM to the launcher (how Spark stops a query's worker) ends the worker, and the launcher
  exits with the worker's status (143);
- with no fork server listening, the launcher becomes the interpreter and the worker still starts;
- the fork server refuses other modules, and one that stops leaves the socket of one started after it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from forked_batch_function import RecordingFunction
from pyspark.serializers import CloudPickleSerializer

from streaming import worker_forkserver
from streaming.worker_launcher import FOREACH_BATCH_WORKER, FORKED_MODULES

SECRET = "not-a-real-secret"
TESTS_LAKE = Path(__file__).parent
WAIT_S = 60


@dataclass
class ForkServer:
    process: subprocess.Popen[bytes]
    socket_path: Path
    log: Path


@pytest.fixture
def fork_server(tmp_path: Path) -> Iterator[ForkServer]:
    """`python -m streaming.worker_forkserver` as the Connect server's entry point starts it."""
    socket_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"pyfork-test-{os.getpid()}-{time.monotonic_ns()}"
    server = _start_fork_server(socket_path, tmp_path / "forkserver.log")
    try:
        yield server
    finally:
        server.process.kill()
        server.process.wait(10)
        socket_path.unlink(missing_ok=True)


def _start_fork_server(socket_path: Path, log: Path) -> ForkServer:
    """Start a fork server on `socket_path` and wait (bounded) until its log says it serves."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streaming.worker_forkserver", str(socket_path)], stderr=out, stdout=out
        )
    deadline = time.monotonic() + WAIT_S
    while "serving" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the fork server did not listen: {log.read_text()}")
        time.sleep(0.1)
    return ForkServer(process, socket_path, log)


class FakeSparkDriver:
    """The JVM's side of one `foreachBatch` worker: listen, authenticate, hand it its function."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(WAIT_S)
        self.conn: socket.socket | None = None
        self.stream = None

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def worker_env(self, **extra: str) -> dict[str, str]:
        """What Spark puts in a worker's environment to connect back (plus `extra`)."""
        return {
            **os.environ,
            "PYTHON_WORKER_FACTORY_PORT": str(self.port),
            "PYTHON_WORKER_FACTORY_SECRET": SECRET,
            "SPARK_CONNECT_LOCAL_URL": "sc://127.0.0.1:1/",  # never dialled: the batch ignores its frame
            **extra,
        }

    def accept(self) -> int:
        """Take the worker's connection and secret; returns the pid it announces."""
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(WAIT_S)
        self.stream = self.conn.makefile("rwb")
        secret = self._read(self._int())
        assert secret.decode() == SECRET
        self._write_str("ok")
        return self._int()

    def start_worker(self, function: object) -> None:
        """Python version, session id and the pickled function; the worker answers 0 once it loaded it.

        (No batch: running one needs a Connect server, the worker drops its batch's frame there.)"""
        self._write_str(f"{sys.version_info.major}.{sys.version_info.minor}")
        self._write_str(str(uuid.uuid4()))
        self._write_bytes(CloudPickleSerializer().dumps(function))
        self._expect_ok("the worker's start")

    def _expect_ok(self, what: str) -> None:
        """0, or -2 and the worker's traceback (PySpark's `handle_worker_exception`)."""
        answer = self._int()
        error = self._read(self._int()).decode(errors="replace") if answer == -2 else ""
        assert answer == 0, f"{what} failed ({answer}): {error}"

    def close(self) -> None:
        for closable in (self.stream, self.conn, self.listener):
            if closable is not None:
                closable.close()

    def _int(self) -> int:
        return int(struct.unpack("!i", self._read(4))[0])

    def _read(self, size: int) -> bytes:
        assert self.stream is not None
        data = self.stream.read(size)
        assert len(data) == size, "the worker closed its connection"
        return bytes(data)

    def _write(self, data: bytes) -> None:
        assert self.stream is not None
        self.stream.write(data)
        self.stream.flush()

    def _write_bytes(self, data: bytes) -> None:
        self._write(struct.pack("!i", len(data)) + data)

    def _write_str(self, text: str) -> None:
        self._write_bytes(text.encode())


def _launch(launcher: Path, driver: FakeSparkDriver, **env: str) -> subprocess.Popen[bytes]:
    """The launcher as Spark starts a worker, in the launcher's own folder."""
    return subprocess.Popen(
        [str(launcher), "-m", FOREACH_BATCH_WORKER],
        env=driver.worker_env(**env),
        cwd=launcher.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + WAIT_S
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_the_worker_is_forked_ready_with_the_launchers_environment_streams_and_status(
    fork_server: ForkServer, tmp_path: Path
) -> None:
    assert FOREACH_BATCH_WORKER in FORKED_MODULES
    launcher = worker_forkserver.launcher_script(tmp_path, fork_server.socket_path, sys.executable)
    record = tmp_path / "batch.json"
    driver = FakeSparkDriver()
    try:
        process = _launch(
            launcher,
            driver,
            FORKED_BATCH_MARKER="from-the-launcher",
            PYTHONPATH=str(TESTS_LAKE),
        )
        worker_pid = driver.accept()
        assert worker_pid != process.pid, "the launcher ran the worker itself"
        monitor = psutil.Process(worker_pid).parent()
        assert monitor is not None and monitor.ppid() == fork_server.process.pid
        driver.start_worker(RecordingFunction(str(record)))
    finally:
        driver.close()  # the worker's next read ends: it stops as it does when Spark closes it
    out, err = process.communicate(timeout=WAIT_S)
    seen = json.loads(record.read_text())
    assert seen == {
        "pid": worker_pid,
        "parent": monitor.pid,
        "cwd": str(tmp_path),  # the launcher's folder (the module is found through PYTHONPATH only)
        "marker": "from-the-launcher",
        "preloaded": True,  # imported by the fork server, not by this worker
    }
    # The worker's own prints reached the launcher's standard output (Spark's log of the worker).
    assert b"Streaming ForeachBatch worker is starting with url sc://127.0.0.1:1/" in out, (out, err)
    assert process.returncode is not None and _gone(worker_pid)
    log = fork_server.log.read_text()
    assert f"started {FOREACH_BATCH_WORKER} as pid {worker_pid}" in log, log


def test_sigterm_to_the_launcher_ends_the_forked_worker(fork_server: ForkServer, tmp_path: Path) -> None:
    launcher = worker_forkserver.launcher_script(tmp_path, fork_server.socket_path, sys.executable)
    driver = FakeSparkDriver()
    try:
        process = _launch(launcher, driver)
        worker_pid = driver.accept()  # the worker now waits for its Python version
        assert worker_pid != process.pid
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT_S) == 128 + signal.SIGTERM
        assert _gone(worker_pid), "the worker outlived its launcher's SIGTERM"
    finally:
        driver.close()


def test_without_a_fork_server_the_launcher_becomes_the_interpreter(tmp_path: Path) -> None:
    launcher = worker_forkserver.launcher_script(tmp_path, tmp_path / "no-server", sys.executable)
    driver = FakeSparkDriver()
    try:
        process = _launch(launcher, driver)
        assert driver.accept() == process.pid  # the launcher's own process, now Python running the worker
    finally:
        driver.close()
    process.communicate(timeout=WAIT_S)
    assert process.returncode is not None


def test_the_fork_server_refuses_a_module_it_does_not_start(fork_server: ForkServer) -> None:
    from streaming.worker_launcher import HEADER

    body = json.dumps({"module": "os", "env": {}, "cwd": "/"}).encode()
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(WAIT_S)
        conn.connect(str(fork_server.socket_path))
        with open(os.devnull, "rb") as null:
            socket.send_fds(conn, [HEADER.pack(len(body))], [null.fileno()] * 3)
            conn.sendall(body)
            assert conn.recv(100) == b"", "a refused request gets no pid: the launcher runs the interpreter"
    assert "not a worker this server starts: 'os'" in fork_server.log.read_text()


def test_a_server_stopping_leaves_the_socket_of_the_one_started_after_it(
    fork_server: ForkServer, tmp_path: Path
) -> None:
    """The supervisor restarts a dead Connect server at once: its new fork server binds the same path
    before the old one noticed and left. The old one must not take the new one's socket with it."""
    second = _start_fork_server(fork_server.socket_path, tmp_path / "second.log").process
    try:
        fork_server.process.terminate()  # the first one leaves (SIGTERM: it cleans up)
        assert fork_server.process.wait(WAIT_S) == 0
        assert fork_server.socket_path.exists()
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(WAIT_S)
            conn.connect(str(fork_server.socket_path))  # the second one still answers
    finally:
        second.kill()
        second.wait(10)
