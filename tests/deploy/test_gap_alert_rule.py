"""The recorded-gaps alert (`SteamPlayerCountPollsMissed` in `deploy/monitoring/alerts.yml`),
evaluated by Prometheus' own `promtool test rules` over the exporter's series
(`steam_platform/monitoring/gaps.py`): it fires as soon as the 24-hour count of missed polls
grows, resolves 15 minutes after it last grew (while the count may stay above zero), never fires
when the count only shrinks (hours leaving the 24-hour window), and on a fresh Prometheus reports
the gaps of the last 24 hours once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from promtool_support import SCRAPED, run_rule_tests, scraped_series

NAME = "SteamPlayerCountPollsMissed"
DESCRIPTION = (
    "Steam, Kafka or the daemon missed polls; they cannot be made later. Which apps and hours: the "
    "no_player_count_gaps check of mart_player_count_gaps in Dagster, the missed-polls panel in "
    "Kibana. Resolves 15 minutes after the last new missed poll was recorded."
)


def fired(missed: int) -> dict[str, Any]:
    """The alert as promtool expects it while `missed` polls are counted."""
    return {
        "exp_labels": {**SCRAPED, "severity": "warning"},
        "exp_annotations": {
            "summary": f"{missed} player-count polls recorded as missed in the last 24 hours, "
            "some in the last 15 minutes",
            "description": DESCRIPTION,
        },
    }


def alert_at(minute: int, *alerts: dict[str, Any]) -> dict[str, Any]:
    return {"eval_time": f"{minute}m", "alertname": NAME, "exp_alerts": list(alerts)}


def test_missed_polls_alert_when_recorded_and_resolve_fifteen_minutes_after_the_last(tmp_path: Path) -> None:
    # Every minute: no gap for 20 minutes, 3 missed polls recorded at 20 min, 5 at 30 min, then the
    # count stays (the 24-hour window still holds them) and later shrinks to 2 (hours rolled out).
    run_rule_tests(
        [
            {
                "interval": "1m",
                "input_series": [scraped_series("steam_player_count_missed_polls", "0x19 3x9 5x39 2x20")],
                "alert_rule_test": [
                    alert_at(19),
                    alert_at(21, fired(3)),
                    alert_at(32, fired(5)),
                    alert_at(44, fired(5)),  # 30 min + 15 min not yet passed
                    alert_at(46),  # resolved: nothing new for 15 minutes, the count still 5
                    alert_at(72),  # shrank to 2: nothing new was missed
                    alert_at(85),
                ],
            }
        ],
        tmp_path,
    )


def test_a_fresh_prometheus_reports_the_last_days_gaps_once(tmp_path: Path) -> None:
    # Prometheus starts while 4 missed polls are in the 24-hour count: alert until it has 15
    # minutes of history that show nothing new.
    run_rule_tests(
        [
            {
                "interval": "1m",
                "input_series": [scraped_series("steam_player_count_missed_polls", "4x40")],
                "alert_rule_test": [alert_at(0, fired(4)), alert_at(14, fired(4)), alert_at(16)],
            }
        ],
        tmp_path,
    )
