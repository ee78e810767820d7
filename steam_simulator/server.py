"""The simulator over real HTTP: a threading stdlib server on 127.0.0.1, in-process or as a program.

The standard library's `ThreadingHTTPServer` is enough for a test double (one thread per
connection, HTTP/1.1 keep-alive) and adds no dependency. Request lines are logged with `key=`
redacted, so the Steam key never reaches a log file.

In tests::

    with SimulatorServer(port=0, seed=7, api_keys=("test-key",)) as sim:
        requests.get(f"{sim.base_url}/ISteamUserStats/GetNumberOfCurrentPlayers/v1/?appid=730")
        sim.set_faults([{"endpoint": "store/appdetails", "kind": "429", "count": 3}])
        assert sim.calls()["by_endpoint"]["store/appdetails"] == ...
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar
from urllib.parse import urlsplit

from steam_platform.core.redaction import redact
from steam_simulator.core import ADMIN_PREFIX, DEFAULT_API_KEY, Outcome, Simulator, SimulatorConfig
from steam_simulator.replies import Reply

log = logging.getLogger(__name__)
HOST = "127.0.0.1"
MAX_ADMIN_BODY = 1 << 20


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into simulator calls; one instance per request."""

    protocol_version = "HTTP/1.1"
    server_version = "SteamSimulator/1.0"
    # Headers and body leave in one write (flushed after each request) and without Nagle's delay:
    # unbuffered, each keep-alive request would wait ~40 ms for the client's delayed ACK.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    sim: ClassVar[Simulator]
    stopping: ClassVar[threading.Event]

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_ADMIN_BODY:
            self._send(Reply(413, b"request body too large", "text/plain"))
            return
        body = self.rfile.read(length) if length else b""
        if url.path.startswith(ADMIN_PREFIX):
            self._send(self.sim.admin(method, url.path, body))
            return
        outcome: Outcome = self.sim.handle(method, url.path, url.query, self.client_address[0])
        if outcome.delay_s:
            self.stopping.wait(outcome.delay_s)  # a slow fault; cut short when the server closes
        self._send(outcome.reply)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        if reply.truncate:
            # Promise the full length, send half, hang up: the client sees an incomplete read.
            self.wfile.write(reply.body[: len(reply.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_WR)
            return
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), redact(format % args))


class SimulatorServer:
    """A running simulator on 127.0.0.1 (`port=0` picks a free port), served from a background thread."""

    def __init__(
        self,
        port: int = 0,
        seed: int = 7,
        api_keys: tuple[str, ...] = (DEFAULT_API_KEY,),
        *,
        host: str = HOST,
        app_count: int | None = None,
        store_rate_limit: int | None = None,
        store_rate_window_s: float | None = None,
        store_retry_after: bool = True,
        faults: list[dict[str, Any]] | None = None,
        now: float | None = None,
        tracked_path: Path | None = None,
    ) -> None:
        config = SimulatorConfig(
            seed=seed, api_keys=tuple(api_keys), store_retry_after=store_retry_after, now=now
        )
        if app_count is not None:
            config.app_count = app_count
        if store_rate_limit is not None:
            config.store_rate_limit = store_rate_limit
        if store_rate_window_s is not None:
            config.store_rate_window_s = store_rate_window_s
        config.faults = list(faults or [])
        config.tracked_path = tracked_path
        self.sim = Simulator(config)
        self._host = host
        self._stopping = threading.Event()
        handler = type("SimulatorHandler", (_Handler,), {"sim": self.sim, "stopping": self._stopping})
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port actually bound (the OS picks one for `port=0`)."""
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`: both the Web API and the store base URL."""
        return f"http://{self._host}:{self.port}"

    def start(self) -> SimulatorServer:
        """Serve from a daemon thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, name="steam-simulator", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until `close()` (the command line's mode)."""
        self._httpd.serve_forever()

    def close(self) -> None:
        """Stop serving, wake slow replies, release the port."""
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the admin API, in process ---------------------------------------------------------------
    def set_faults(self, rules: list[dict[str, Any]]) -> None:
        """Replace the fault rules (raises FaultRuleError on invalid rules, keeping the old ones)."""
        self.sim.faults.set_rules({"rules": rules})

    def calls(self) -> dict[str, Any]:
        """`{"total": N, "by_endpoint": {...}}` since the start or the last reset."""
        return self.sim.faults.calls()

    def reset(self) -> None:
        """Clear counters, faults and rate-limit windows; the clock returns to its configured start."""
        self.sim.reset()

    def set_clock(self, now: float | None) -> None:
        """Freeze the simulated time at `now` (unix seconds) or return to real time with None."""
        self.sim.set_clock(now)
