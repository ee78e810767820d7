"""Bounded waits with visible progress, so a first start never looks hung and never hangs forever.

The polling itself is `tenacity`'s (a maintained retry library, already used for the platform's HTTP
and Elasticsearch retries): `stop_after_delay` bounds every wait, `wait_fixed` spaces the checks,
`retry_if_result` retries only a False answer, so an exception from a check (e.g. `StackError` for a
server that died) ends the wait at once instead of being retried until the deadline.
"""

from __future__ import annotations

import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import tenacity

#: How often a long wait says it is still waiting (seconds).
PROGRESS_EVERY_S = 10.0


class StackError(RuntimeError):
    """A local-stack step failed; the message says which service and where its log is."""


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when `url` answers with a 2xx status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return bool(200 <= resp.status < 300)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def poll(
    check: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.5,
    on_wait: Callable[[float], None] | None = None,
) -> bool:
    """Call `check` every `interval` s until it returns True (-> True) or `timeout` s passed (-> False).

    `check` runs at least once, the last time no later than `timeout + interval` s after the first.
    `on_wait(elapsed_s)` is called before each pause. An exception raised by `check` propagates at
    once (it is not retried).
    """

    def before_sleep(state: tenacity.RetryCallState) -> None:
        if on_wait is not None:
            on_wait(state.seconds_since_start or 0.0)

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_delay(timeout),
        wait=tenacity.wait_fixed(interval),
        retry=tenacity.retry_if_result(lambda ok: not ok),
        retry_error_callback=lambda _state: False,
        before_sleep=before_sleep,
    )
    return bool(retrying(check))


def wait_until(
    check: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    alive: Callable[[], bool] | None = None,
    log_hint: str = "",
    interval: float = 0.5,
) -> None:
    """Poll `check` until it is true; fail after `timeout` s or as soon as `alive()` turns false.

    Progress goes to stderr (ready after N s; still waiting every 10 s). A failure raises
    `StackError` naming `what`, how long it waited, and `log_hint` (where the log is).
    """
    start = time.monotonic()
    last_report = 0.0

    def attempt() -> bool:
        if check():
            return True
        if alive is not None and not alive():
            raise StackError(
                f"{what}: the process exited after {time.monotonic() - start:.0f}s, before becoming "
                f"ready. {log_hint}".strip()
            )
        return False

    def report(elapsed: float) -> None:
        nonlocal last_report
        if elapsed - last_report >= PROGRESS_EVERY_S:
            print(f"  {what}: still waiting ({elapsed:.0f}s)...", file=sys.stderr, flush=True)
            last_report = elapsed

    if not poll(attempt, timeout=timeout, interval=interval, on_wait=report):
        raise StackError(f"{what}: not ready after {timeout:.0f}s. {log_hint}".strip())
    print(f"  {what}: ready after {time.monotonic() - start:.1f}s", file=sys.stderr, flush=True)
