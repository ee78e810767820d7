"""Environment selection and the local stack's env file."""

from __future__ import annotations

from pathlib import Path

import pytest

from steam_platform.core.settings import (
    Environment,
    KafkaSettings,
    LakeSettings,
    ScheduleSettings,
    SearchSettings,
    Settings,
    SettingsError,
    current_environment,
    read_env_file,
    reveal,
)


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
    assert KafkaSettings.load(Environment.LOCAL).bootstrap_servers == "127.0.0.1:1111"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:2222")
    assert KafkaSettings.load(Environment.LOCAL).bootstrap_servers == "127.0.0.1:2222"
    assert LakeSettings.load(Environment.LOCAL).bucket == "steam-lake"  # set nowhere: the stack's default


def test_a_bad_local_setting_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "env").write_text("export KAFKA_BROKERS=three\n")
    monkeypatch.setenv("STEAM_STACK_DIR", str(tmp_path))
    monkeypatch.delenv("KAFKA_BROKERS", raising=False)
    with pytest.raises(ValueError, match="KAFKA_BROKERS='three'"):
        KafkaSettings.load(Environment.LOCAL)


def test_production_reads_the_process_environment_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stack's env file and the stack's own values are local fallbacks; production never sees them
    (an unset S3_ENDPOINT_URL there means AWS S3, not the local stack's store)."""
    (tmp_path / "env").write_text("export LAKE_BUCKET=from-the-stack\n")
    monkeypatch.setenv("STEAM_STACK_DIR", str(tmp_path))
    for name in ("LAKE_BUCKET", "S3_ENDPOINT_URL", "ELASTICSEARCH_INDEX_REPLICAS"):
        monkeypatch.delenv(name, raising=False)

    local, production = LakeSettings.load(Environment.LOCAL), LakeSettings.load(Environment.PRODUCTION)

    assert (local.bucket, local.endpoint_url, local.path_style_access) == (
        "from-the-stack",
        "http://127.0.0.1:19000",
        True,
    )
    assert (production.bucket, production.endpoint_url, production.path_style_access) == (
        "steam-lake",
        None,
        False,
    )
    assert SearchSettings.load(Environment.LOCAL).index_replicas == 0  # one local node
    assert SearchSettings.load(Environment.PRODUCTION).index_replicas == 1
    monkeypatch.setenv("ELASTICSEARCH_INDEX_REPLICAS", "2")
    assert SearchSettings.load(Environment.LOCAL).index_replicas == 2  # what is set wins


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_TOPIC_PARTITIONS", "")
    monkeypatch.setenv("STEAM_PARTITIONS_START", "")
    assert KafkaSettings.load(Environment.PRODUCTION).topic_partitions == 6
    assert ScheduleSettings.load(Environment.PRODUCTION).partitions_start.isoformat() == "2026-10-01"


SECRET = "Recognisable-Secret-0123456789"


def test_secrets_never_show_in_the_settings_or_their_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    secret_names = [
        name
        for name, (group, field) in Settings.variables().items()
        if "SecretStr" in str(group.model_fields[field].annotation)
    ]
    assert {"STEAM_API_KEY", "AWS_SECRET_ACCESS_KEY", "KAFKA_SASL_PASSWORD", "DAGSTER_PG_PASSWORD"} <= set(
        secret_names
    )
    for name in secret_names:
        monkeypatch.setenv(name, SECRET)
    settings = Settings.load(Environment.PRODUCTION)
    for shown in (repr(settings), str(settings), repr(settings.kafka), f"{settings.steam}"):
        assert SECRET not in shown
    assert reveal(settings.kafka.sasl_password) == SECRET and settings.steam.is_set("api_key")
    # A value that fails validation is quoted, unless it belongs to a secret.
    monkeypatch.setenv("KAFKA_BROKERS", SECRET)
    with pytest.raises(SettingsError, match="KAFKA_BROKERS='Recognisable"):
        KafkaSettings.load(Environment.PRODUCTION)


def test_every_variable_has_one_group_and_a_description() -> None:
    names = [group.env_name(field) for group in Settings.groups() for field in group.model_fields]
    assert len(names) == len(set(names)), "a variable is declared twice"
    for group in Settings.groups():
        for field, info in group.model_fields.items():
            assert info.description and "\n" not in info.description, f"{group.__name__}.{field}"
