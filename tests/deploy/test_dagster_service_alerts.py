"""The alerts on Dagster's own processes (`deploy/monitoring/alerts.yml`: the daemon, the code
server and Dagster's Postgres), evaluated by Prometheus' own `promtool test rules` over the
exporter's series (`steam_platform/monitoring/dagster_services.py`, `code_servers.py`): each fires
on its fault and resolves by itself after recovery (restarts: 10 minutes after the last one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from promtool_support import ALERTS, SCRAPED, run_rule_tests, scraped_series

DESCRIPTIONS = {
    rule["alert"]: rule["annotations"].get("description", "")
    for group in yaml.safe_load(ALERTS.read_text())["groups"]
    for rule in group["rules"]
    if "alert" in rule
}


def fired(name: str, severity: str, summary: str, **labels: str) -> dict[str, Any]:
    return {
        "exp_labels": {**labels, "severity": severity},
        "exp_annotations": {"summary": summary, "description": DESCRIPTIONS[name]},
    }


def at(name: str, minute: int, *alerts: dict[str, Any]) -> dict[str, Any]:
    return {"eval_time": f"{minute}m", "alertname": name, "exp_alerts": list(alerts)}


def check(series: list[dict[str, str]], expectations: list[dict[str, Any]], tmp_path: Path) -> None:
    run_rule_tests([{"interval": "1m", "input_series": series, "alert_rule_test": expectations}], tmp_path)


def test_a_second_daemon_id_fires_and_resolves_ten_minutes_after_the_old_one_was_last_seen(
    tmp_path: Path,
) -> None:
    name = "SteamDagsterDaemonRestarted"
    restarted = fired(
        name,
        "warning",
        "The Dagster daemon restarted: 2 daemon processes wrote heartbeats in the last 10 minutes",
    )
    check(
        [
            scraped_series("steam_dagster_daemon_info", "1x20", daemon_id="old"),
            scraped_series("steam_dagster_daemon_info", "_x21 1x40", daemon_id="new"),
        ],
        [at(name, 20), at(name, 21, restarted), at(name, 29, restarted), at(name, 31), at(name, 60)],
        tmp_path,
    )


def test_the_daemon_is_down_when_no_thread_heartbeats_for_two_minutes(tmp_path: Path) -> None:
    # SENSOR's thread is slow (its heartbeat always old): only the freshest heartbeat counts.
    name = "SteamDagsterDaemonDown"
    down = fired(name, "critical", "The Dagster daemon has written no heartbeat for 4m 10s")
    check(
        [
            scraped_series(
                "steam_dagster_daemon_heartbeat_age_seconds", "10x10 70+60x5 5x10", daemon_type="SCHEDULER"
            ),
            scraped_series("steam_dagster_daemon_heartbeat_age_seconds", "500+60x27", daemon_type="SENSOR"),
        ],
        [at(name, 10), at(name, 12), at(name, 14, down), at(name, 17)],
        tmp_path,
    )


def test_a_new_code_server_id_fires_per_location_and_resolves_ten_minutes_later(tmp_path: Path) -> None:
    name = "SteamDagsterCodeServerRestarted"
    summary = "The code server of steam_platform restarted (or was reloaded) within the last 10 minutes"
    restarted = fired(name, "warning", summary, location="steam_platform")
    info = "steam_dagster_code_server_info"
    check(
        [
            scraped_series(info, "1x20", location="steam_platform", server_id="s1"),
            scraped_series(info, "_x21 1x40", location="steam_platform", server_id="s2"),
            scraped_series(info, "1x60", location="other", server_id="o1"),
        ],
        [at(name, 20), at(name, 21, restarted), at(name, 29, restarted), at(name, 31)],
        tmp_path,
    )


def test_a_code_server_not_answering_for_three_minutes_fires_until_it_answers(tmp_path: Path) -> None:
    name = "SteamDagsterCodeServerDown"
    down = fired(
        name,
        "critical",
        "The code server of steam_platform is not answering",
        **SCRAPED,
        location="steam_platform",
    )
    check(
        [scraped_series("steam_dagster_code_server_up", "1x5 0x5 1x10", location="steam_platform")],
        [at(name, 5), at(name, 8), at(name, 9, down), at(name, 11, down), at(name, 12)],
        tmp_path,
    )


def test_a_new_postgres_start_time_fires_and_resolves_ten_minutes_later(tmp_path: Path) -> None:
    # Postgres restarts at minute 11 (the exporter cannot read it that scrape); a Prometheus that
    # starts after Postgres (the constant series of `fresh`) never calls that a restart.
    name = "SteamDagsterStorageRestarted"
    restarted = fired(
        name,
        "warning",
        "The Postgres server holding Dagster's storage restarted within the last 10 minutes",
        **SCRAPED,
    )
    start = "steam_dagster_storage_start_timestamp_seconds"
    check(
        [scraped_series(start, "1000x10 _ 5000x30")],
        [at(name, 10), at(name, 12, restarted), at(name, 19, restarted), at(name, 21), at(name, 40)],
        tmp_path,
    )
    check([scraped_series(start, "5000x30")], [at(name, m) for m in (0, 5, 15, 30)], tmp_path)
