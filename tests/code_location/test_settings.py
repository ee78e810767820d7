"""Environment selection and the local stack's env file."""

from __future__ import annotations

from pathlib import Path

import pytest

from steam_platform.core.settings import Environment, LocalEndpoints, current_environment, read_env_file


def test_environment_defaults_to_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STEAM_PLATFORM_ENV", raising=False)
    assert current_environment() is Environment.LOCAL
    monkeypatch.setenv("STEAM_PLATFORM_ENV", "Production")
    assert current_environment() is Environment.PRODUCTION


def test_unknown_environment_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEAM_PLATFORM_ENV", "staging")
    with pytest.raises(ValueError, match="'staging' is not one of: local, production"):
        current_environment()


def test_env_file_round_trip_with_quoting(tmp_path: Path) -> None:
    env = tmp_path / "env"
    env.write_text("export A=1\nexport B='two words'\n# comment\n\nexport C=''\n")
    assert read_env_file(env) == {"A": "1", "B": "two words", "C": ""}
    assert read_env_file(tmp_path / "missing") == {}


def test_local_setting_prefers_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "env").write_text("export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1111\n")
    monkeypatch.setenv("STEAM_STACK_DIR", str(tmp_path))
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("LAKE_BUCKET", raising=False)
    assert LocalEndpoints.load().kafka_bootstrap_servers == "127.0.0.1:1111"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:2222")
    assert LocalEndpoints.load().kafka_bootstrap_servers == "127.0.0.1:2222"
    assert LocalEndpoints.load().lake_bucket == "steam-lake"  # set nowhere: the stack's default


def test_a_bad_local_setting_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "env").write_text("export KAFKA_BROKERS=three\n")
    monkeypatch.setenv("STEAM_STACK_DIR", str(tmp_path))
    monkeypatch.delenv("KAFKA_BROKERS", raising=False)
    with pytest.raises(ValueError, match="kafka_brokers"):
        LocalEndpoints.load()
