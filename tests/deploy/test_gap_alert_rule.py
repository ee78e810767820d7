"""The recorded-gaps alert (`SteamPlayerCountPollsMissed` in `deploy/monitoring/alerts.yml`),
evaluated by Prometheus' own `promtool test rules` over the exporter's series
(`steam_platform/monitoring/gaps.py`): it fires as soon as a missed poll is recorded and resolves
two hours after the newest hour with a gap, while the 24-hour count may stay above zero."""

from __future__ import annotations

from pathlib import Path

from promtool_support import SCRAPED, run_rule_tests, scraped_series

NAME = "SteamPlayerCountPollsMissed"


def test_missed_polls_alert_at_once_and_resolve_two_hours_after_the_newest_gap_hour(tmp_path: Path) -> None:
    # Every 5 minutes: no gap for 15 minutes, then 3 rows whose newest hour began at t = 600 s
    # (the series' clock starts at 0); the newest-hour series is absent while nothing was recorded.
    fired = {
        "exp_labels": {**SCRAPED, "severity": "warning"},
        "exp_annotations": {
            "summary": "3 (app, hour) rows with missed player-count polls recorded in the last 24 hours",
            "description": "Steam, Kafka or the daemon missed polls; they cannot be made later. Which "
            "apps and hours: the no_player_count_gaps check of mart_player_count_gaps in Dagster, the "
            "missed-polls panel in Kibana. Resolves 2 hours after the newest hour with a gap.",
        },
    }
    run_rule_tests(
        [
            {
                "interval": "5m",
                "input_series": [
                    scraped_series("steam_player_count_gap_rows", "0x2 3x40"),
                    scraped_series("steam_player_count_newest_gap_hour_timestamp_seconds", "_x2 600x40"),
                ],
                "alert_rule_test": [
                    {"eval_time": "10m", "alertname": NAME, "exp_alerts": []},
                    {"eval_time": "15m", "alertname": NAME, "exp_alerts": [fired]},
                    {"eval_time": "125m", "alertname": NAME, "exp_alerts": [fired]},
                    {"eval_time": "135m", "alertname": NAME, "exp_alerts": []},  # 600 s + 2 h passed
                ],
            }
        ],
        tmp_path,
    )
