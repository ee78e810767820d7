"""Prometheus, Alertmanager and the platform's metrics exporter as local-stack servers.

Started by `stack up --monitoring` (kept in `stack.json` like `--spark-cluster`). Both servers are
the Debian packages `scripts/install.sh` installs (`prometheus`, `prometheus-alertmanager`); they
run the files compose ships (`deploy/monitoring/{prometheus,alerts,alertmanager}.yml`), rewritten
into the state folder with the stack's addresses:

- Prometheus scrapes every Kafka node's JMX exporter agent (`KAFKA_METRICS_URLS`), the platform's
  exporter and itself, evaluates `alerts.yml` and sends alerts to Alertmanager;
- Alertmanager posts them (firing and resolved) to the Slack-compatible webhook
  `STEAM_ALERT_WEBHOOK_URL` (written to a 0600 file it reads, never to its config or log); unset,
  alerts are kept in Alertmanager's UI only;
- the exporter (`python -m steam_platform.monitoring`) reads the stack's Dagster instance
  (`<state>/dagster_home`, the one `make dev` uses: runs, daemon heartbeats, its Postgres) and the
  stack's Kafka, Elasticsearch and Steam budget through the stack's env file, and checks the code
  servers of a workspace it writes into the state folder (default: `steam-platform dev`'s code
  server on its default port).

`AlertTimings` holds the scrape/evaluation intervals and Alertmanager's waits: production's by
default; tests pass `FAST` (seconds, and every rule's `for:` replaced) to see alerts within seconds.
kafka-exporter (consumer-group lag) runs in compose only.
"""

from __future__ import annotations

import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, cast
from urllib.parse import urlsplit

import yaml

from steam_devstack.code_server import DEFAULT_CODE_SERVER_PORT, CodeLocation
from steam_devstack.health import StackError, wait_until
from steam_devstack.paths import REPO_ROOT, make_private, private_dir, write_private
from steam_devstack.process import ManagedProcess
from steam_devstack.services.base import Service, StackContext
from steam_devstack.services.kafka import KafkaService
from steam_devstack.services.postgres import PostgresService
from steam_platform.core.settings import MonitoringSettings, reveal

HOST = "127.0.0.1"
MONITORING = REPO_ROOT / "deploy" / "monitoring"
START_TIMEOUT_S = 60
PROMETHEUS_BIN = "prometheus"
ALERTMANAGER_BIN = "prometheus-alertmanager"  # the Debian package's name for `alertmanager`


@dataclass(frozen=True)
class AlertTimings:
    """How quickly a fault becomes a notification: Prometheus' intervals, Alertmanager's waits."""

    scrape_interval: str = "15s"
    evaluation_interval: str = "15s"
    #: How often Prometheus re-sends a firing alert to Alertmanager.
    resend_delay: str = "1m"
    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"
    resolve_timeout: str = "5m"
    #: Every rule's `for:` replaced by this (None: the rules' own production durations).
    rule_for: str | None = None
    #: The platform exporter's own scrape interval, also its scrape timeout (None: the global ones).
    #: Prometheus caps a scrape's timeout at its interval, and one scrape of the exporter reads the
    #: Dagster instance, Kafka and Elasticsearch: seconds on a busy machine, so never 1 s.
    exporter_scrape_interval: str | None = None


PRODUCTION = AlertTimings()
#: For tests: a fault is a notification within a few seconds, and so is its recovery.
FAST = AlertTimings(
    scrape_interval="1s",
    evaluation_interval="1s",
    resend_delay="1s",
    group_wait="0s",
    group_interval="1s",
    repeat_interval="1h",
    resolve_timeout="10s",
    rule_for="0s",
    exporter_scrape_interval="5s",
)


def find_binary(name: str) -> str:
    """The path of `name`, or a StackError saying what installs it."""
    path = shutil.which(name)
    if path is None:
        raise StackError(f"{name} is missing: `make install` installs it (Debian packages prometheus, "
                         "prometheus-alertmanager)")  # fmt: skip
    return path


def rules_with_for(rules: Mapping[str, Any], duration: str) -> dict[str, Any]:
    """The rule file with every alert's `for:` replaced by `duration` (for quick tests)."""
    groups = [
        {
            **group,
            "rules": [{**rule, "for": duration} if "alert" in rule else rule for rule in group["rules"]],
        }
        for group in rules["groups"]
    ]
    return {**rules, "groups": groups}


class MonitoringService(Service):
    """The platform's exporter, Prometheus and Alertmanager (three processes of one service)."""

    name = "monitoring"
    default_ports: ClassVar[dict[str, int]] = {"prometheus": 9090, "alertmanager": 9093, "metrics": 9464}
    reads_stack_env: ClassVar[bool] = True

    def __init__(
        self,
        ctx: StackContext,
        *,
        timings: AlertTimings = PRODUCTION,
        kafka_metrics: Sequence[str] | None = None,
        webhook_url: str | None = None,
        exporter_argv: Sequence[str] | None = None,
        exporter_env: Mapping[str, str] | None = None,
        exporter: bool = True,
        code_servers: Sequence[CodeLocation] | None = None,
    ) -> None:
        """`kafka_metrics`: the brokers' metrics URLs (default: this stack's Kafka nodes);
        `webhook_url`: default `STEAM_ALERT_WEBHOOK_URL`; `exporter_argv`/`exporter_env`: extra
        arguments and environment of the exporter (default: the stack's instance and services);
        `exporter=False`: Prometheus and Alertmanager only (Kafka's metrics alone); `code_servers`:
        the code servers the exporter checks (default: `steam-platform dev`'s on its default port
        when the exporter reads the stack's instance, none with a caller's `exporter_env`)."""
        super().__init__(ctx)
        self.timings = timings
        self._kafka_metrics = kafka_metrics
        self._webhook_url = webhook_url
        self._exporter_argv = list(exporter_argv or [])
        self._exporter_env = dict(exporter_env) if exporter_env is not None else None
        self.exporter = exporter
        if code_servers is None:
            default = [CodeLocation(port=DEFAULT_CODE_SERVER_PORT)]
            code_servers = default if exporter_env is None else []
        self.code_servers = list(code_servers)

    # -- where things are --------------------------------------------------------------------
    @property
    def folder(self) -> Path:
        """Rendered configs and the webhook URL file."""
        return self.ctx.state_dir / "monitoring"

    @property
    def dagster_home(self) -> Path:
        """The stack's Dagster instance folder (`make dev` uses the same one under `.stack/`)."""
        return self.ctx.state_dir / "dagster_home"

    def url(self, key: str) -> str:
        return f"http://{HOST}:{self.port(key)}"

    def processes(self) -> list[ManagedProcess]:
        servers = [self.process("-prometheus"), self.process("-alertmanager")]
        return [self.process("-exporter"), *servers] if self.exporter else servers

    def ports_in_use(self) -> list[int]:
        """Busy ports of the processes that are not running (`start` restarts only those)."""
        by_process = {"prometheus": "-prometheus", "alertmanager": "-alertmanager", "metrics": "-exporter"}
        down = [key for key, suffix in by_process.items() if not self.process(suffix).is_running()]
        return [port for port in super().ports_in_use() if port in {self.port(k) for k in down}]

    def kafka_targets(self) -> list[str]:
        """`host:port` of each broker's metrics endpoint."""
        urls = (
            self._kafka_metrics if self._kafka_metrics is not None else KafkaService(self.ctx).metrics_urls()
        )
        return [urlsplit(u).netloc for u in urls]

    def webhook_url(self) -> str | None:
        if self._webhook_url is not None:
            return self._webhook_url
        return reveal(MonitoringSettings.load().alert_webhook_url)

    # -- configuration -----------------------------------------------------------------------
    def prometheus_config(self, rules_file: Path) -> dict[str, Any]:
        """deploy/monitoring/prometheus.yml with this stack's targets and the timings."""
        config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
        config["global"] = {
            "scrape_interval": self.timings.scrape_interval,
            "evaluation_interval": self.timings.evaluation_interval,
        }
        config["rule_files"] = [str(rules_file)]
        config["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": [f"{HOST}:{self.port('alertmanager')}"]}]}]
        }
        targets = {
            "kafka-jmx": self.kafka_targets(),
            "steam-platform": [f"{HOST}:{self.port('metrics')}"] if self.exporter else [],
            "prometheus": [f"{HOST}:{self.port('prometheus')}"],
        }
        config["scrape_configs"] = [
            {**job, "static_configs": [{"targets": targets[job["job_name"]]}]}
            for job in config["scrape_configs"]
            if targets.get(job["job_name"])
        ]
        if self.timings.exporter_scrape_interval:
            for job in config["scrape_configs"]:
                if job["job_name"] == "steam-platform":
                    job["scrape_interval"] = job["scrape_timeout"] = self.timings.exporter_scrape_interval
        return config

    def alertmanager_config(self, url_file: Path | None) -> dict[str, Any]:
        """deploy/monitoring/alertmanager.yml with the URL file and the timings (no URL: no sender)."""
        config = yaml.safe_load((MONITORING / "alertmanager.yml").read_text())
        t = self.timings
        config["global"]["resolve_timeout"] = t.resolve_timeout
        route = config["route"]
        route.update(
            group_wait=t.group_wait, group_interval=t.group_interval, repeat_interval=t.repeat_interval
        )
        for receiver in config["receivers"]:
            if url_file is None:
                receiver.pop("slack_configs", None)
            for slack in receiver.get("slack_configs", []):
                slack["api_url_file"] = str(url_file)
        return config

    def write_configs(self) -> tuple[Path, Path]:
        """Render Prometheus' and Alertmanager's configs (and the URL file) into the state folder
        (private, like the rest of the state)."""
        private_dir(self.folder)
        rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
        if self.timings.rule_for is not None:
            rules = rules_with_for(rules, self.timings.rule_for)
        rules_file = self.folder / "alerts.yml"
        rules_file.write_text(yaml.safe_dump(rules, sort_keys=False))
        prometheus = self.folder / "prometheus.yml"
        prometheus.write_text(yaml.safe_dump(self.prometheus_config(rules_file), sort_keys=False))
        url = self.webhook_url()
        url_file = self.folder / "webhook-url" if url else None
        if url_file is not None and url is not None:
            write_private(url_file, url)
        alertmanager = self.folder / "alertmanager.yml"
        alertmanager.write_text(yaml.safe_dump(self.alertmanager_config(url_file), sort_keys=False))
        return prometheus, alertmanager

    def write_workspace(self) -> Path | None:
        """The workspace naming `code_servers` (as `dagster dev` gets it) for the exporter's
        `--workspace`; None when there is none to check."""
        if not self.code_servers:
            return None
        load_from = [cast(list[object], loc.workspace()["load_from"])[0] for loc in self.code_servers]
        path = private_dir(self.folder) / "workspace.yaml"
        path.write_text(yaml.safe_dump({"load_from": load_from}, sort_keys=False))
        return path

    def exporter_environment(self) -> dict[str, str]:
        """The stack's instance (Postgres) and env file, unless the caller gave its own."""
        if self._exporter_env is not None:
            return self._exporter_env
        home = private_dir(self.dagster_home)  # as `make run` prepares it
        if not (home / "dagster.yaml").exists():
            shutil.copyfile(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
            make_private(home / "dagster.yaml")
        return {
            "STEAM_PLATFORM_ENV": "local",
            "STEAM_STACK_DIR": str(self.ctx.state_dir),
            "DAGSTER_HOME": str(self.dagster_home),
            **PostgresService(self.ctx).endpoints(),
        }

    # -- lifecycle ---------------------------------------------------------------------------
    def install(self) -> None:
        """Nothing to fetch: both servers are Debian packages (`make install`); check they exist."""
        find_binary(PROMETHEUS_BIN)
        find_binary(ALERTMANAGER_BIN)

    def start(self) -> None:
        """Start the exporter (first: Prometheus' first scrape must find it), then both servers."""
        prometheus_yml, alertmanager_yml = self.write_configs()
        prometheus, alertmanager = self.process("-prometheus"), self.process("-alertmanager")
        if self.exporter:
            self._start_exporter()
        if not alertmanager.is_running():
            data = private_dir(self.folder / "alertmanager-data")
            alertmanager.start(
                [
                    find_binary(ALERTMANAGER_BIN),
                    f"--config.file={alertmanager_yml}",
                    f"--storage.path={data}",
                    f"--web.listen-address={HOST}:{self.port('alertmanager')}",
                    "--cluster.listen-address=",  # one instance: no gossip port
                ],
                cwd=self.ctx.state_dir,
            )
        if not prometheus.is_running():
            prometheus.start(
                [
                    find_binary(PROMETHEUS_BIN),
                    f"--config.file={prometheus_yml}",
                    f"--storage.tsdb.path={self.ctx.data_dir('prometheus')}",
                    f"--web.listen-address={HOST}:{self.port('prometheus')}",
                    f"--rules.alert.resend-delay={self.timings.resend_delay}",
                ],
                cwd=self.ctx.state_dir,
            )
        self._wait(lambda: self._ready("alertmanager"), "alertmanager", alertmanager)
        self._wait(lambda: self._ready("prometheus"), "prometheus", prometheus)

    def _start_exporter(self) -> None:
        exporter = self.process("-exporter")
        if not exporter.is_running():
            argv = [sys.executable, "-m", "steam_platform.monitoring", "--port", str(self.port("metrics"))]
            workspace = self.write_workspace()
            argv += ["--workspace", str(workspace)] if workspace else []
            env = {"PYTHONUNBUFFERED": "1", **self.exporter_environment()}
            exporter.start([*argv, *self._exporter_argv], cwd=self.ctx.state_dir, env=env)
        self._wait(self._exporter_ready, "metrics exporter", exporter)

    def _wait(self, check: Any, what: str, proc: ManagedProcess) -> None:
        wait_until(
            check, what=what, timeout=START_TIMEOUT_S, alive=proc.is_running, log_hint=f"See {proc.log_file}"
        )

    def _ready(self, key: str) -> bool:
        return _answers(f"{self.url(key)}/-/ready")

    def _exporter_ready(self) -> bool:
        return _answers(f"{self.url('metrics')}/metrics")

    def healthy(self) -> bool:
        """All answer: the exporter's `/metrics`, both servers' `/-/ready`."""
        exporter_ok = self._exporter_ready() if self.exporter else True
        return exporter_ok and self._ready("prometheus") and self._ready("alertmanager")

    def endpoints(self) -> dict[str, str]:
        return {
            "PROMETHEUS_URL": self.url("prometheus"),
            "ALERTMANAGER_URL": self.url("alertmanager"),
            "STEAM_METRICS_URL": f"{self.url('metrics')}/metrics",
        }


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False
