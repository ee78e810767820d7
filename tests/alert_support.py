"""A real alert path for tests: the monitoring service (exporter, Prometheus, Alertmanager) with
seconds-long timings, posting to a Slack-compatible webhook served by the test.

`WebhookReceiver` (`steam_devstack/alert_webhook.py`) stands in for Slack: it collects every POST
Alertmanager sends, and `wait_for` finds the message of one alert in one state
(`[FIRING] KafkaBrokerDown`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from steam_devstack.alert_webhook import WebhookReceiver
from steam_devstack.alert_webhook import webhook_receiver as serve_webhook
from steam_devstack.health import free_port
from steam_devstack.paths import cache_dir
from steam_devstack.services.base import StackContext
from steam_devstack.services.monitoring import FAST, MonitoringService
from steam_devstack.stack import LocalStack


@contextmanager
def webhook_receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    """A local Slack-compatible webhook: yields the receiver and its URL (a secret-looking path, as
    Slack's are)."""
    with serve_webhook("/services/T000/B000/secret-token") as served:
        yield served


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
        # The stack chose these ports when it came up, minutes before, and nothing held them since:
        # a server started meanwhile (the other worker's, a test's) may have been given one. Prometheus
        # then exits at once ("address already in use"); fresh ones are taken just before the start.
        for key in MonitoringService.default_ports:
            stack.ctx.ports[key] = free_port()
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
