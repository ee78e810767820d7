"""Bounded waits with visible progress, so a first start never looks hung and never hangs forever."""

from __future__ import annotations

import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable


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


def wait_until(
    check: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    alive: Callable[[], bool] | None = None,
    log_hint: str = "",
    interval: float = 0.5,
) -> None:
    """Poll `check` until it is true; fail after `timeout` s or as soon as `alive()` turns false."""
    start = time.monotonic()
    last_report = start
    while True:
        if check():
            print(f"  {what}: ready after {time.monotonic() - start:.1f}s", file=sys.stderr, flush=True)
            return
        now = time.monotonic()
        if alive is not None and not alive():
            raise StackError(f"{what}: process exited before becoming ready. {log_hint}".strip())
        if now - start > timeout:
            raise StackError(f"{what}: not ready after {timeout:.0f}s. {log_hint}".strip())
        if now - last_report >= 10:
            print(f"  {what}: still waiting ({now - start:.0f}s)...", file=sys.stderr, flush=True)
            last_report = now
        time.sleep(interval)
