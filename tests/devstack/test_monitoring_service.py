"""`stack up --monitoring`'s configuration: compose's files with the stack's addresses, checked by
Prometheus' and Alertmanager's own tools; the webhook URL stays out of every config and log."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path

import yaml

from steam_devstack.paths import cache_dir
from steam_devstack.services.base import StackContext
from steam_devstack.services.monitoring import FAST, MonitoringService
from steam_devstack.stack import LocalStack

URL = "https://hooks.example.invalid/services/T1/B2/very-secret-token"
PORTS = {"prometheus": 19090, "alertmanager": 19093, "metrics": 19464}


def _service(tmp_path: Path, url: str | None, **kwargs: object) -> MonitoringService:
    ctx = StackContext(state_dir=tmp_path, cache_dir=cache_dir(), ports=dict(PORTS))
    return MonitoringService(ctx, kafka_metrics=["http://127.0.0.1:1234/metrics"], webhook_url=url, **kwargs)  # type: ignore[arg-type]


def _check(*argv: str) -> str:
    tool = shutil.which(argv[0])
    assert tool, f"{argv[0]} is missing: `make install` installs it"
    result = subprocess.run([tool, *argv[1:]], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_rendered_configs_pass_promtool_and_amtool_and_point_at_the_stack(tmp_path: Path) -> None:
    service = _service(tmp_path, URL)
    prometheus, alertmanager = service.write_configs()
    assert "SUCCESS" in _check("promtool", "check", "config", str(prometheus))
    _check("amtool", "check-config", str(alertmanager))

    config = yaml.safe_load(prometheus.read_text())
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert jobs == {
        "kafka-jmx": ["127.0.0.1:1234"],
        "steam-platform": ["127.0.0.1:19464"],
        "prometheus": ["127.0.0.1:19090"],
    }  # kafka-exporter runs in compose only
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:19093"]
    assert config["global"] == {"scrape_interval": "15s", "evaluation_interval": "15s"}
    rules = yaml.safe_load(Path(config["rule_files"][0]).read_text())
    assert rules == yaml.safe_load((Path(__file__).parents[2] / "deploy/monitoring/alerts.yml").read_text())

    # The token is only in the owner-only file Alertmanager reads, never in a config.
    (slack,) = yaml.safe_load(alertmanager.read_text())["receivers"][0]["slack_configs"]
    url_file = Path(slack["api_url_file"])
    assert url_file.read_text() == URL and stat.S_IMODE(url_file.stat().st_mode) == 0o600
    assert all("very-secret-token" not in p.read_text() for p in (prometheus, alertmanager))


def test_fast_timings_shorten_every_rule_and_no_url_means_no_sender(tmp_path: Path) -> None:
    service = _service(tmp_path, None, timings=FAST, exporter=False)
    prometheus, alertmanager = service.write_configs()
    config = yaml.safe_load(prometheus.read_text())
    assert "steam-platform" not in {job["job_name"] for job in config["scrape_configs"]}
    rules = yaml.safe_load(Path(config["rule_files"][0]).read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    assert alerts and {r["for"] for r in alerts} == {"0s"}
    am = yaml.safe_load(alertmanager.read_text())
    assert "slack_configs" not in am["receivers"][0] and am["route"]["group_wait"] == "0s"
    _check("amtool", "check-config", str(alertmanager))
    assert not (tmp_path / "monitoring" / "webhook-url").exists()


def test_fast_timings_give_the_exporter_a_scrape_timeout_of_seconds(tmp_path: Path) -> None:
    """A 1 s global scrape caps every scrape's timeout at 1 s; one scrape of the platform exporter
    reads the Dagster instance, Kafka and Elasticsearch, so its job keeps 5 s (promtool accepts it)."""
    prometheus, _ = _service(tmp_path, URL, timings=FAST).write_configs()
    assert "SUCCESS" in _check("promtool", "check", "config", str(prometheus))
    jobs = {job["job_name"]: job for job in yaml.safe_load(prometheus.read_text())["scrape_configs"]}
    assert jobs["steam-platform"]["scrape_interval"] == jobs["steam-platform"]["scrape_timeout"] == "5s"
    assert "scrape_timeout" not in jobs["kafka-jmx"]  # the global 1 s: the broker alerts stay fast


def test_the_monitoring_choice_is_kept_for_later_calls(tmp_path: Path) -> None:
    assert "monitoring" not in [s.name for s in LocalStack(tmp_path, prefer_default_ports=False).services]
    chosen = LocalStack(tmp_path, monitoring=True, prefer_default_ports=False)
    chosen._save()
    assert json.loads((tmp_path / "stack.json").read_text())["monitoring"] is True
    later = LocalStack(tmp_path)
    assert later.monitoring and "monitoring" in [s.name for s in later.services]
    assert set(PORTS) <= set(later.ctx.ports)
