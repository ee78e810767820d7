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

from steam_platform.core.sources import DEAD_LETTER_TOPIC, PLAYER_COUNTS

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
        "kafka_server_kafkaserver_brokerstate": {b: f"3x{minutes}" for b in BROKERS},  # RUNNING
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
                40,
                up=dead,
                kafka_server_replicamanager_underreplicatedpartitions=under,
                # a broker that does not answer serves no series: Prometheus marks them stale
                kafka_server_kafkaserver_brokerstate={
                    **{b: "3x40" for b in BROKERS[:2]},
                    "kafka-3:9404": "3 3 stale",
                },
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
            "input_series": _healthy(
                10,
                kafka_server_kafkaserver_brokerstate={
                    "kafka-1:9404": "3x10",
                    "kafka-2:9404": "3 3 stale 1 2 2 3x5",  # restarted: no answer, starting, recovering
                    "kafka-3:9404": "3x10",
                },
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


def _platform(name: str, values: str, **labels: str) -> dict[str, str]:
    """One series of the platform's exporter (job steam-platform)."""
    extra = "".join(f', {k}="{v}"' for k, v in labels.items())
    return {
        "series": f'{name}{{job="steam-platform", instance="steam-metrics:9464"{extra}}}',
        "values": values,
    }


def test_platform_alert_rules_wait_their_production_durations_and_resolve(
    promtool: str, tmp_path: Path
) -> None:
    """The platform's rules (`group: platform`) at their production `for:`: a failed run pages after
    5 minutes unless a later success came first; a stale layer after 5 minutes past its window; the
    lake's backlog once older than half the topic's retention for 10 minutes; each dead letter at once."""
    job = {"dagster_job": "lake_refresh_job"}
    player = {"asset": "bronze_player_counts", "layer": "lake"}
    topic = {"topic": PLAYER_COUNTS.topic}
    base = {"job": "steam-platform", "instance": "steam-metrics:9464"}
    tests = [
        {
            "interval": "1m",
            "input_series": [
                # A failure retried successfully within 2 minutes (no page), then one that stays failed.
                _platform("steam_job_last_run_failed", "0 1 1 0 0 0 0 0 0 0 1x10 0x5", **job),
                _platform("steam_asset_freshness_lag_seconds", "60+60x30", **player),  # stops refreshing
                _platform("steam_asset_freshness_fail_window_seconds", "1800x30", **player),
                _platform("steam_lake_kafka_lag_age_seconds", "0x5 400000x20", **topic),
                _platform("steam_kafka_topic_retention_seconds", "604800x30", **topic),
                _platform("steam_dead_letters_total", "0x10 3x20", topic=DEAD_LETTER_TOPIC),
            ],
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "SteamRunFailed", "exp_alerts": []},
                {"eval_time": "14m", "alertname": "SteamRunFailed", "exp_alerts": []},
                {
                    "eval_time": "16m",
                    "alertname": "SteamRunFailed",
                    "exp_alerts": [
                        {
                            "exp_labels": {**base, **job, "severity": "warning"},
                            "exp_annotations": {
                                "summary": "The latest run of lake_refresh_job failed",
                                "description": "Resolves when a later run of lake_refresh_job succeeds. "
                                "The run's logs are in the Dagster UI (Runs, filter by job).",
                            },
                        }
                    ],
                },
                {
                    "eval_time": "22m",
                    "alertname": "SteamRunFailed",
                    "exp_alerts": [],
                },  # a success resolved it
                # Lag passes the 30-minute window at minute 30: not yet stale at 29, paging 5 minutes on.
                {"eval_time": "29m", "alertname": "SteamLayerStale", "exp_alerts": []},
                {"eval_time": "15m", "alertname": "SteamLakeLagNearRetention", "exp_alerts": []},
                {
                    "eval_time": "17m",
                    "alertname": "SteamLakeLagNearRetention",
                    "exp_alerts": [
                        {
                            "exp_labels": {**topic, "severity": "critical"},  # matched on(topic)
                            "exp_annotations": {
                                "summary": f"The lake is 4d 15h 6m 40s behind {PLAYER_COUNTS.topic}: "
                                "over half "
                                "of its retention",
                                "description": "Records not landed in bronze are deleted by Kafka when "
                                "retention passes; land them now (lake_refresh_job).",
                            },
                        }
                    ],
                },
                {"eval_time": "9m", "alertname": "SteamDeadLetters", "exp_alerts": []},
                {
                    "eval_time": "12m",
                    "alertname": "SteamDeadLetters",
                    "exp_alerts": [
                        {
                            "exp_labels": {**base, "topic": DEAD_LETTER_TOPIC, "severity": "warning"},
                            "exp_annotations": {
                                "summary": f"3 payloads dead-lettered to {DEAD_LETTER_TOPIC} "
                                "in the last hour",
                                "description": "Each carries its reason in its headers; "
                                "they were left out of the lake.",
                            },
                        }
                    ],
                },
            ],
        },
        {  # a layer whose newest data is 40 minutes old against a 30-minute window, for 6 minutes
            "interval": "1m",
            "input_series": [
                _platform("steam_asset_freshness_lag_seconds", "2400+60x10", **player),
                _platform("steam_asset_freshness_fail_window_seconds", "1800x10", **player),
            ],
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "SteamLayerStale", "exp_alerts": []},
                {
                    "eval_time": "6m",
                    "alertname": "SteamLayerStale",
                    "exp_alerts": [
                        {
                            "exp_labels": {"layer": "lake", "severity": "critical"},
                            "exp_annotations": {
                                "summary": "The lake layer is stale: data 16m 0s past its freshness window",
                                "description": "An asset of the layer has not been materialised within its "
                                "freshness policy's fail window: the platform stopped keeping up.",
                            },
                        }
                    ],
                },
            ],
        },
    ]
    spec = {"rule_files": [str(MONITORING / "alerts.yml")], "evaluation_interval": "1m", "tests": tests}
    test_file = tmp_path / "platform_alerts_test.yml"
    test_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = _run(promtool, "test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr
