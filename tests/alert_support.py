"""A real alert path for tests: the monitoring service (exporter, Prometheus, Alertmanager) with
seconds-long timings, posting to a Slack-compatible webhook served by the test.

`WebhookReceiver` stands in for Slack: it collects every POST Alertmanager sends, and
`wait_for` finds the message of one alert in one state (`[FIRING] KafkaBrokerDown`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from http_fake import respond, serve_handler

from steam_devstack.health import free_port
from steam_devstack.paths import cache_dir
from steam_devstack.services.base import StackContext
from steam_devstack.services.monitoring import FAST, MonitoringService
from steam_devstack.stack import LocalStack


@dataclass
class Notification:
    """One Slack-compatible message: its title (`[FIRING] Alert`) and text (the summaries)."""

    title: str
    text: str
    received_at: float


@dataclass
class WebhookReceiver:
    """Every message posted to the webhook, in order of arrival."""

    messages: list[Notification] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, body: bytes) -> None:
        payload = json.loads(body)
        with self.lock:
            for attachment in payload["attachments"]:
                self.messages.append(Notification(attachment["title"], attachment["text"], time.monotonic()))

    def find(self, status: str, alertname: str, text: str = "", since: float = 0.0) -> Notification | None:
        """The first message `[STATUS] alertname` whose text contains `text`, received after `since`."""
        with self.lock:
            for message in self.messages:
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
        """Wait (bounded) for that message; the assertion lists what did arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.find(status, alertname, text, since)
            if found is not None:
                return found
            time.sleep(0.2)
        with self.lock:
            seen = [(m.title, m.text) for m in self.messages]
        raise AssertionError(f"no [{status}] {alertname} ({text!r}) within {timeout} s; received: {seen}")


@contextmanager
def webhook_receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    """A local Slack-compatible webhook: yields the receiver and its URL."""
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver.record(self.rfile.read(int(self.headers["Content-Length"])))
            respond(self, 200, b"ok", "text/plain")

        def log_message(self, format: str, *args: object) -> None:
            return

    with serve_handler(Handler) as base:
        yield receiver, f"{base}/services/T000/B000/secret-token"


@contextmanager
def fast_monitoring(
    state_dir: Path,
    webhook_url: str,
    *,
    kafka_metrics: Sequence[str] = (),
    exporter_argv: Sequence[str] = (),
    exporter_env: Mapping[str, str] | None = None,
    stack: LocalStack | None = None,
) -> Iterator[MonitoringService]:
    """The monitoring service on free ports with `FAST` timings; stopped afterwards. Without
    `exporter_env`, no platform exporter runs (Prometheus scrapes Kafka's metrics only); with
    `stack`, it is that stack's (its ports, brokers, instance and env file, as `stack up --monitoring`)."""
    if stack is not None:
        service = MonitoringService(stack.ctx, timings=FAST, webhook_url=webhook_url)
    else:
        ports = {key: free_port() for key in MonitoringService.default_ports}
        ctx = StackContext(state_dir=state_dir, cache_dir=cache_dir(), ports=ports)
        service = MonitoringService(
            ctx,
            timings=FAST,
            kafka_metrics=list(kafka_metrics),
            webhook_url=webhook_url,
            exporter_argv=exporter_argv,
            exporter_env=exporter_env,
            exporter=exporter_env is not None,
        )
    try:
        service.start()
        yield service
    finally:
        service.stop()
