"""A local Slack-compatible webhook that keeps every message Alertmanager posts to it.

It stands in for Slack wherever the alert path is tried without one: the alert tests
(`tests/alert_support.py`) and the chaos benchmark (`benchmarks/chaos_platform.py`) point the
monitoring service's `STEAM_ALERT_WEBHOOK_URL` at it and read what arrived: `[FIRING] KafkaBrokerDown`
titles with the alerts' summaries as text. Served by the standard library's threading HTTP server on
127.0.0.1 at a free port.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Notification:
    """One Slack attachment: its title (`[FIRING] Alert`, `[RESOLVED] Alert`) and text (the
    summaries), when it arrived on the monotonic clock and on the wall clock (epoch seconds)."""

    title: str
    text: str
    received_at: float
    received_wall: float


@dataclass
class WebhookReceiver:
    """Every message posted to the webhook, in order of arrival."""

    messages: list[Notification] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, body: bytes) -> None:
        """Keep the attachments of one posted Slack message."""
        payload = json.loads(body)
        monotonic, wall = time.monotonic(), time.time()
        with self.lock:
            for attachment in payload.get("attachments", []):
                self.messages.append(
                    Notification(attachment.get("title", ""), attachment.get("text", ""), monotonic, wall)
                )

    def snapshot(self) -> list[Notification]:
        """What arrived so far."""
        with self.lock:
            return list(self.messages)

    def find(self, status: str, alertname: str, text: str = "", since: float = 0.0) -> Notification | None:
        """The first message `[STATUS] alertname` whose text contains `text`, received after `since`
        (monotonic)."""
        for message in self.snapshot():
            if (
                message.title == f"[{status}] {alertname}"
                and text in message.text
                and message.received_at >= since
            ):
                return message
        return None

    def wait_for(
        self, status: str, alertname: str, text: str = "", since: float = 0.0, timeout: float = 30
    ) -> Notification:
        """Wait (bounded) for that message; the error lists what did arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.find(status, alertname, text, since)
            if found is not None:
                return found
            time.sleep(0.2)
        seen = [(m.title, m.text) for m in self.snapshot()]
        raise AssertionError(f"no [{status}] {alertname} ({text!r}) within {timeout} s; received: {seen}")


@contextmanager
def webhook_receiver(path: str = "/services/T000/B000/local") -> Iterator[tuple[WebhookReceiver, str]]:
    """Serve a receiver on 127.0.0.1 at a free port; yields it and its URL (`path` on it)."""
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver.record(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="alert-webhook", daemon=True)
    thread.start()
    try:
        yield receiver, f"http://127.0.0.1:{server.server_port}{path}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
