"""`steam-platform simulator`: registered on the platform CLI, and bad fault files fail before serving."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from steam_devstack.cli import app

runner = CliRunner(env={"COLUMNS": "400"})


def _text(output: str) -> str:
    """The output without rich's box drawing and line wrapping."""
    return " ".join(output.replace("│", " ").split())


def test_simulator_command_is_registered_with_its_options() -> None:
    result = runner.invoke(app, ["simulator", "--help"])
    assert result.exit_code == 0
    for option in ("--port", "--seed", "--api-key", "--faults", "--store-rate-limit", "--no-retry-after"):
        assert option in result.output


def test_unreadable_or_invalid_fault_files_are_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = runner.invoke(app, ["simulator", "--port", "0", "--faults", str(broken)])
    assert result.exit_code == 2 and "cannot read fault rules" in _text(result.output)

    wrong_shape = tmp_path / "shape.json"
    wrong_shape.write_text(json.dumps({"faults": []}))
    result = runner.invoke(app, ["simulator", "--port", "0", "--faults", str(wrong_shape)])
    assert result.exit_code == 2 and "must hold" in _text(result.output)

    bad_rule = tmp_path / "rule.json"
    bad_rule.write_text(json.dumps([{"endpoint": "store/appdetails", "kind": "429", "delay_ms": -5}]))
    result = runner.invoke(app, ["simulator", "--port", "0", "--faults", str(bad_rule)])
    assert result.exit_code == 2 and "delay_ms" in _text(result.output)
