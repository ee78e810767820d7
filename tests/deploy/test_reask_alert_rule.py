"""The given-up alert (`SteamWorkGivenUp` in `deploy/monitoring/alerts.yml`), evaluated by
Prometheus' own `promtool test rules` over the exporter's series (`steam_platform/monitoring/reask.py`):
quiet while failed partitions are still being asked again, firing as soon as one is given up, per
job, and resolved once it is rebuilt."""

from __future__ import annotations

from pathlib import Path

from promtool_support import SCRAPED, run_rule_tests, scraped_series

NAME = "SteamWorkGivenUp"


def test_a_given_up_partition_alerts_at_once_and_resolves_when_rebuilt(tmp_path: Path) -> None:
    fired = {
        "exp_labels": {**SCRAPED, "dagster_job": "news_job", "severity": "warning"},
        "exp_annotations": {
            "summary": "1 failed partition(s) of news_job given up after every re-ask",
            "description": "reask_failed_work_sensor asked them again with back-off until "
            "STEAM_REASK_MAX_TRIES (or a snapshot grew too old). Which ones: Dagster UI, Runs, tag "
            "steam_platform/reask_given_up. Fix the cause, then re-run them (docs/operating.md, Failed "
            "work is asked again); resolves when they succeed.",
        },
    }
    # Every 5 minutes: news_job has a partition being re-asked (pending) until 10 minutes, given up
    # from 15, rebuilt by hand at 45; the lake job only ever has work still being re-asked.
    run_rule_tests(
        [
            {
                "interval": "5m",
                "input_series": [
                    scraped_series("steam_reask_pending_partitions", "1x2 0x10", dagster_job="news_job"),
                    scraped_series("steam_reask_given_up_partitions", "0x2 1x5 0x5", dagster_job="news_job"),
                    scraped_series("steam_reask_pending_partitions", "3x14", dagster_job="lake_refresh_job"),
                    scraped_series("steam_reask_given_up_partitions", "0x14", dagster_job="lake_refresh_job"),
                ],
                "alert_rule_test": [
                    {"eval_time": "10m", "alertname": NAME, "exp_alerts": []},
                    {"eval_time": "15m", "alertname": NAME, "exp_alerts": [fired]},
                    {"eval_time": "40m", "alertname": NAME, "exp_alerts": [fired]},
                    {"eval_time": "45m", "alertname": NAME, "exp_alerts": []},
                ],
            }
        ],
        tmp_path,
    )
