"""The given-up alert (`SteamWorkGivenUp` in `deploy/monitoring/alerts.yml`), evaluated by
Prometheus' own `promtool test rules` over the exporter's series (`steam_platform/monitoring/reask.py`):
quiet while failed partitions are still being asked again, firing as soon as one is given up, per
job, and resolved once it is rebuilt."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "monitoring" / "alerts.yml"
SCRAPED = {"job": "steam-platform", "instance": "steam-metrics:9464"}
NAME = "SteamWorkGivenUp"


def _series(name: str, job: str, values: str) -> dict[str, str]:
    labels = ", ".join(f'{k}="{v}"' for k, v in {**SCRAPED, "dagster_job": job}.items())
    return {"series": f"{name}{{{labels}}}", "values": values}


def test_a_given_up_partition_alerts_at_once_and_resolves_when_rebuilt(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make install` installs it (Debian package prometheus)"
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
    spec = {
        "rule_files": [str(ALERTS)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "5m",
                "input_series": [
                    _series("steam_reask_pending_partitions", "news_job", "1x2 0x10"),
                    _series("steam_reask_given_up_partitions", "news_job", "0x2 1x5 0x5"),
                    _series("steam_reask_pending_partitions", "lake_refresh_job", "3x14"),
                    _series("steam_reask_given_up_partitions", "lake_refresh_job", "0x14"),
                ],
                "alert_rule_test": [
                    {"eval_time": "10m", "alertname": NAME, "exp_alerts": []},
                    {"eval_time": "15m", "alertname": NAME, "exp_alerts": [fired]},
                    {"eval_time": "40m", "alertname": NAME, "exp_alerts": [fired]},
                    {"eval_time": "45m", "alertname": NAME, "exp_alerts": []},
                ],
            }
        ],
    }
    test_file = tmp_path / "reask_alert_test.yml"
    test_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
