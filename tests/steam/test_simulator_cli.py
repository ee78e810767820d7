"""`steam-platform simulator`: registered on the platform CLI, and bad fault files fail before serving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
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


def test_stack_status_masks_every_secret_of_the_stack_env(tmp_path: Path) -> None:
    """`stack status` on a stopped stack (no server starts) shows the endpoints with secrets masked."""
    from steam_devstack.services.postgres import PostgresService
    from steam_devstack.stack import LocalStack

    password = "pg-password-0123456789"
    postgres = LocalStack(tmp_path, only=["postgres"]).services[0]
    assert isinstance(postgres, PostgresService)
    postgres.credentials_file.parent.mkdir(parents=True, exist_ok=True)
    postgres.credentials_file.write_text(
        json.dumps({"superuser_password": password, "dagster_password": password})
    )

    result = runner.invoke(app, ["stack", "status"], env={"STEAM_STACK_DIR": str(tmp_path)})

    assert result.exit_code == 1  # nothing runs
    output = _text(result.output)
    assert password not in output
    for name in ("DAGSTER_PG_PASSWORD", "AWS_SECRET_ACCESS_KEY", "STEAM_API_KEY"):
        assert f"'{name}': '***'" in output, name
    assert "'DAGSTER_PG_USER': 'dagster'" in output  # everything else is shown as is


def test_stack_up_prints_the_env_with_every_secret_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    import steam_devstack.cli as cli

    secret = "Recognisable-Secret-0123456789"
    env = {
        "AWS_SECRET_ACCESS_KEY": secret,
        "DAGSTER_PG_PASSWORD": secret,
        "STEAM_API_KEY": secret,
        "SOME_SECRET_SETTING": secret,
        "GITHUB_TOKEN": secret,
        "AWS_REGION": "us-east-1",
        "STEAM_SPARK_JARS": "/cache/jars/a.jar:/cache/jars/b.jar",
    }

    class FakeStack:
        env_file = Path("/tmp/stack/env")

        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def up(self) -> dict[str, str]:
            return env

    monkeypatch.setattr(cli, "LocalStack", FakeStack)
    result = runner.invoke(app, ["stack", "up"])

    assert result.exit_code == 0, result.output
    assert secret not in result.output
    for name in ("AWS_SECRET_ACCESS_KEY", "DAGSTER_PG_PASSWORD", "STEAM_API_KEY", "SOME_SECRET_SETTING"):
        assert f"{name}=***" in result.output
    assert "GITHUB_TOKEN=***" in result.output and "AWS_REGION=us-east-1" in result.output
    assert "STEAM_SPARK_JARS=<2 jars in /cache/jars>" in result.output
