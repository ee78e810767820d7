"""Prometheus' own `promtool test rules` over `deploy/monitoring/alerts.yml`, for alert rule tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ALERTS = Path(__file__).resolve().parents[1] / "deploy" / "monitoring" / "alerts.yml"
#: The labels Prometheus adds to every series scraped from the platform's exporter in compose.
SCRAPED = {"job": "steam-platform", "instance": "steam-metrics:9464"}


def scraped_series(name: str, values: str, **labels: str) -> dict[str, str]:
    """One input series of the exporter's metric `name` in promtool's value notation."""
    text = ", ".join(f'{k}="{v}"' for k, v in {**SCRAPED, **labels}.items())
    return {"series": f"{name}{{{text}}}", "values": values}


def run_rule_tests(tests: list[dict[str, Any]], folder: Path) -> None:
    """Run promtool's rule unit tests `tests` (evaluated every minute) against alerts.yml; fail
    with promtool's output when one does not hold."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make install` installs it (Debian package prometheus)"
    spec = {"rule_files": [str(ALERTS)], "evaluation_interval": "1m", "tests": tests}
    test_file = folder / "alert_rule_test.yml"
    test_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
