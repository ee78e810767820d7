"""Prometheus config and Kafka alert rules, checked and unit-tested with Prometheus' own promtool.

`promtool test rules` evaluates `deploy/monitoring/alerts.yml` over synthetic series (the metric
names the brokers' JMX exporter serves; `tests/bus/test_kafka_metrics.py` proves a real
broker serves each of them) and asserts which alerts fire, and when.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
BROKERS = ["kafka-1:9404", "kafka-2:9404", "kafka-3:9404"]


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: `make install` installs it (Debian package prometheus)"
    return path


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_prometheus_config_and_rules_are_valid(promtool: str) -> None:
    config = _run(promtool, "check", "config", str(MONITORING / "prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr
    assert "1 rule files found" in config.stdout
    scrape = yaml.safe_load((MONITORING / "prometheus.yml").read_text())["scrape_configs"]
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in scrape}
    assert jobs["kafka-jmx"] == BROKERS


def _series(name: str, values: dict[str, str], **labels: str) -> list[dict[str, str]]:
    """One input series per broker: `values` maps instance -> promtool value notation."""
    extra = "".join(f', {k}="{v}"' for k, v in labels.items())
    return [
        {"series": f'{name}{{job="kafka-jmx", instance="{inst}"{extra}}}', "values": v}
        for inst, v in values.items()
    ]


def _healthy(minutes: int, **overrides: dict[str, str]) -> list[dict[str, str]]:
    """A healthy 3-broker cluster for `minutes`, with some series replaced by `overrides`."""
    steady = {b: f"0x{minutes}" for b in BROKERS}
    series: dict[str, dict[str, str]] = {
        "up": {b: f"1x{minutes}" for b in BROKERS},
        "kafka_server_replicamanager_underreplicatedpartitions": steady,
        "kafka_server_replicamanager_underminisrpartitioncount": steady,
        "kafka_controller_kafkacontroller_offlinepartitionscount": steady,
        "kafka_controller_kafkacontroller_fencedbrokercount": steady,
        "kafka_server_replicamanager_isrshrinks_total": steady,
        "kafka_controller_kafkacontroller_activecontrollercount": {
            b: f"{int(i == 0)}x{minutes}" for i, b in enumerate(BROKERS)
        },
        "kafka_log_log_size": {b: f"5e9x{minutes}" for b in BROKERS},
    }
    series.update(overrides)
    return [s for name, values in series.items() for s in _series(name, values)]


def _alert(instance: str | None, severity: str, job: bool = True, **annotations: str) -> dict[str, Any]:
    """An expected firing alert: its labels (per broker or cluster-wide) and rendered annotations."""
    labels = {"severity": severity}
    if instance:
        labels["instance"] = instance
        if job:
            labels["job"] = "kafka-jmx"
    return {"exp_labels": labels, "exp_annotations": annotations}


def test_alert_rules_fire_on_kafka_failures_and_stay_quiet_when_healthy(
    promtool: str, tmp_path: Path
) -> None:
    dead = {"kafka-1:9404": "1x40", "kafka-2:9404": "1x40", "kafka-3:9404": "1 1 0x38"}
    under = {"kafka-1:9404": "0 0 3x38", "kafka-2:9404": "0 0 3x38"}
    skew = {"kafka-1:9404": "30e9x40", "kafka-2:9404": "5e9x40", "kafka-3:9404": "5e9x40"}
    tests = [
        {  # healthy: nothing fires
            "interval": "1m",
            "input_series": _healthy(40),
            "alert_rule_test": [
                {"eval_time": "35m", "alertname": a, "exp_alerts": []}
                for a in (
                    "KafkaBrokerDown",
                    "KafkaUnderReplicatedPartitions",
                    "KafkaOfflinePartitions",
                    "KafkaNoActiveController",
                    "KafkaBrokerLogSizeSkew",
                    "KafkaBrokerLogSizeHigh",
                )
            ],
        },
        {  # broker 3 dies at minute 2: down after 1m, under-replicated after 5m
            "interval": "1m",
            "input_series": _healthy(
                40, up=dead, kafka_server_replicamanager_underreplicatedpartitions=under
            ),
            "alert_rule_test": [
                {
                    "eval_time": "3m",
                    "alertname": "KafkaBrokerDown",
                    "exp_alerts": [
                        _alert(
                            "kafka-3:9404",
                            "critical",
                            summary="Kafka broker kafka-3:9404 is not answering",
                            description="RF 3 / min ISR 2 keeps writes going with one broker down; "
                            "a second loss stops acks=all producers.",
                        )
                    ],
                },
                {"eval_time": "5m", "alertname": "KafkaUnderReplicatedPartitions", "exp_alerts": []},
                {
                    "eval_time": "8m",
                    "alertname": "KafkaUnderReplicatedPartitions",
                    "exp_alerts": [
                        _alert(
                            None,
                            "warning",
                            summary="6 under-replicated Kafka partitions",
                            description="A replica is out of sync (broker down, slow disk or network). "
                            "One more failure may block writes.",
                        )
                    ],
                },
                {"eval_time": "8m", "alertname": "KafkaOfflinePartitions", "exp_alerts": []},
            ],
        },
        {  # broker 2's JVM answers but the broker is not RUNNING (restarting, recovering its log)
            "interval": "1m",
            "input_series": _healthy(10)
            + _series(
                "kafka_server_kafkaserver_brokerstate",
                {"kafka-1:9404": "3x10", "kafka-2:9404": "3 3 1 2 2 2 3x5", "kafka-3:9404": "3x10"},
            ),
            "alert_rule_test": [
                {"eval_time": "1m", "alertname": "KafkaBrokerDown", "exp_alerts": []},
                {
                    "eval_time": "4m",
                    "alertname": "KafkaBrokerDown",
                    "exp_alerts": [
                        _alert(
                            "kafka-2:9404",
                            "critical",
                            summary="Kafka broker kafka-2:9404 is not answering",
                            description="RF 3 / min ISR 2 keeps writes going with one broker down; "
                            "a second loss stops acks=all producers.",
                        )
                    ],
                },
                {"eval_time": "8m", "alertname": "KafkaBrokerDown", "exp_alerts": []},
            ],
        },
        {  # one broker holds most of the data (the retrospective's full disk)
            "interval": "1m",
            "input_series": _healthy(40, kafka_log_log_size=skew),
            "alert_rule_test": [
                {
                    "eval_time": "35m",
                    "alertname": "KafkaBrokerLogSizeSkew",
                    "exp_alerts": [
                        _alert(
                            "kafka-1:9404",
                            "warning",
                            job=False,
                            summary="Kafka broker kafka-1:9404 holds over 1.5x the average log size: "
                            "partitions are not spread",
                        )
                    ],
                },
            ],
        },
        {  # partitions without a leader, and a second active controller
            "interval": "1m",
            "input_series": _healthy(
                10,
                kafka_controller_kafkacontroller_offlinepartitionscount={"kafka-1:9404": "4x10"},
                kafka_controller_kafkacontroller_activecontrollercount={b: "1x10" for b in BROKERS[:2]},
            ),
            "alert_rule_test": [
                {
                    "eval_time": "5m",
                    "alertname": "KafkaOfflinePartitions",
                    "exp_alerts": [
                        _alert(
                            None,
                            "critical",
                            summary="4 Kafka partitions have no leader (unreadable and unwritable)",
                        )
                    ],
                },
                {
                    "eval_time": "5m",
                    "alertname": "KafkaNoActiveController",
                    "exp_alerts": [
                        _alert(
                            None,
                            "critical",
                            summary="2 active KRaft controllers (want exactly 1)",
                        )
                    ],
                },
            ],
        },
    ]
    spec = {
        "rule_files": [str(MONITORING / "alerts.yml")],
        "evaluation_interval": "1m",
        "tests": tests,
    }
    test_file = tmp_path / "kafka_alerts_test.yml"
    test_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = _run(promtool, "test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
