"""Keep one server process running: start it, and start it again whenever it exits.

The local stack's servers are detached processes that outlive `stack up`; nothing restarts one
that dies (an OOM kill, a stray `kill`). A server that every Dagster run attaches to (the Spark
Connect server) needs that: this module is its parent process. The stack starts
`python -m steam_devstack.supervisor -- <server argv>` as the service's process (its pid file, its
process group); the supervisor runs the server as a child in the same group and, when the child
exits for any reason other than the supervisor being told to stop, starts it again after a
backoff (1 s, doubling to 30 s while the server keeps dying young; back to 1 s once it has stayed
up a minute). `stack down` signals the whole group: the server and the supervisor stop together,
and the supervisor, told to stop, starts nothing.

A server that hangs without exiting is not restarted here (the server's JVM exits on an
OutOfMemoryError, `-XX:+ExitOnOutOfMemoryError`, so the common hang becomes an exit); clients bound
their own wait and fall back (see `steam_platform/resources/spark.py`).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RestartPolicy:
    """How long to wait before starting a server again after it exited."""

    min_backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    #: A server that ran at least this long before exiting gets the shortest backoff again.
    healthy_after_s: float = 60.0

    def next_backoff(self, previous_s: float, ran_s: float) -> float:
        """The wait before the next start: the shortest after a long run, else doubled (capped)."""
        if ran_s >= self.healthy_after_s or previous_s <= 0:
            return self.min_backoff_s
        return min(previous_s * 2, self.max_backoff_s)


def _say(message: str) -> None:
    print(f"[supervisor] {time.strftime('%Y-%m-%dT%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def supervise(
    argv: Sequence[str],
    stop: threading.Event,
    *,
    policy: RestartPolicy | None = None,
    on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
    say: Callable[[str], None] = _say,
) -> int:
    """Run `argv` until `stop` is set, starting it again each time it exits; returns the restarts.

    The child inherits this process's stdout/stderr and process group. `on_start(child)` is called
    after every start (tests watch the pids). When `stop` is set, the running child is terminated
    (killed after 30 s) and the function returns.
    """
    policy = policy or RestartPolicy()
    restarts = 0
    backoff = 0.0
    while not stop.is_set():
        started = time.monotonic()
        child = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL)
        say(f"started {argv[0]} (pid {child.pid})")
        if on_start is not None:
            on_start(child)
        while child.poll() is None and not stop.wait(0.5):
            pass
        if stop.is_set():
            _end(child)
            break
        ran = time.monotonic() - started
        backoff = policy.next_backoff(backoff, ran)
        say(f"pid {child.pid} exited with {child.returncode} after {ran:.0f} s; again in {backoff:.0f} s")
        if stop.wait(backoff):
            break
        restarts += 1
    return restarts


def _end(child: subprocess.Popen[bytes]) -> None:
    """Terminate `child`, kill it after 30 s, reap it."""
    if child.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        child.terminate()
    try:
        child.wait(30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        child.wait(10)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m steam_devstack.supervisor -- <server argv>`: supervise until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("server", nargs=argparse.REMAINDER, help="the server's command line, after --")
    args = parser.parse_args(argv)
    server = args.server[1:] if args.server[:1] == ["--"] else args.server
    if not server:
        parser.error("no server command line given")
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    supervise(server, stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
