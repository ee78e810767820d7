"""Resource wiring: a real Steam key never becomes plain resource config (the UI shows config)."""

from pathlib import Path

import dagster as dg
import pytest

from steam_platform.core.settings import Environment
from steam_platform.resources.wiring import build_resources


@pytest.mark.parametrize("env", [Environment.LOCAL, Environment.PRODUCTION])
def test_a_steam_key_from_the_environment_stays_an_env_var(
    env: Environment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEAM_API_KEY", "0123456789ABCDEF0123456789ABCDEF")
    monkeypatch.setenv("STEAM_API_BASE_URL", "https://api.steampowered.com")
    for key in ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_REPLICATION_FACTOR", "KAFKA_MIN_INSYNC_REPLICAS"):
        monkeypatch.setenv(key, "1" if key != "KAFKA_BOOTSTRAP_SERVERS" else "127.0.0.1:9092")
    monkeypatch.setenv("ELASTICSEARCH_URL", "http://127.0.0.1:9200")
    monkeypatch.setenv("LAKE_BUCKET", "steam-lake")

    steam = build_resources(env)["steam"]

    assert isinstance(steam.api_key, dg.EnvVar)
    assert steam.api_key == "STEAM_API_KEY"  # the variable's name, not its value
    assert steam.api_base_url == "https://api.steampowered.com"


def test_local_without_a_key_in_the_environment_uses_the_stack_simulator_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("STEAM_API_KEY", raising=False)
    monkeypatch.setenv("STEAM_STACK_DIR", str(tmp_path))
    (tmp_path / "env").write_text(
        "export STEAM_API_KEY=local-simulator-key\nexport STEAM_API_BASE_URL=http://127.0.0.1:8787\n"
    )

    steam = build_resources(Environment.LOCAL)["steam"]

    assert steam.api_key == "local-simulator-key"
    assert not isinstance(steam.api_key, dg.EnvVar)
    assert steam.api_base_url == "http://127.0.0.1:8787"


def test_a_local_s3_key_pair_from_the_environment_stays_env_vars(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STEAM_STACK_DIR", str(tmp_path))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret-from-the-environment")

    s3 = build_resources(Environment.LOCAL)["s3"]

    assert isinstance(s3.secret_access_key, dg.EnvVar) and s3.secret_access_key == "AWS_SECRET_ACCESS_KEY"
    assert isinstance(s3.access_key_id, dg.EnvVar)


def test_the_local_stacks_fixed_s3_pair_is_plain_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("STEAM_STACK_DIR", str(tmp_path))
    (tmp_path / "env").write_text(
        "export AWS_ACCESS_KEY_ID=steam-local\nexport AWS_SECRET_ACCESS_KEY=steam-local-secret\n"
    )

    resources = build_resources(Environment.LOCAL)

    assert resources["s3"].secret_access_key == "steam-local-secret"
    assert "steam-local-secret" not in repr(resources["s3"]) + repr(resources["pyspark"])
