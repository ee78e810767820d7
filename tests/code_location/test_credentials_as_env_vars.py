"""Credentials reach resources only as `dg.EnvVar`, also those of the local stack's own env file:
the resource config the UI shows (the code location's repository snapshot) names the variables and
never holds a value, and a run still resolves them (`export_stack_credentials`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.remote_representation.external_data import RepositorySnap, ResourceConfigEnvVarSnap
from dagster_shared.serdes import serialize_value

from steam_platform.core.settings import (
    Environment,
    LakeSettings,
    SteamSettings,
    credentials_withheld,
    export_stack_credentials,
)
from steam_platform.resources.wiring import build_resources

#: Each credential the stack's env file may hold, with a value found nowhere else.
STACK_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "stack-access-id-7f3a91",
    "AWS_SECRET_ACCESS_KEY": "stack-s3-secret-7f3a91",
    "KAFKA_SASL_PASSWORD": "stack-kafka-pw-7f3a91",
    "STEAM_API_KEY": "stack-steam-key-7f3a91",
    "ELASTICSEARCH_PASSWORD": "stack-es-pw-7f3a91",
    "KIBANA_PASSWORD": "stack-kibana-pw-7f3a91",
}
#: Where each credential must appear in the UI's resource config, as the variable's name.
EXPECTED_ENV_VARS = {
    ("s3", "access_key_id"): "AWS_ACCESS_KEY_ID",
    ("s3", "secret_access_key"): "AWS_SECRET_ACCESS_KEY",
    ("kafka", "sasl_password"): "KAFKA_SASL_PASSWORD",
    ("steam", "api_key"): "STEAM_API_KEY",
    ("elasticsearch", "password"): "ELASTICSEARCH_PASSWORD",
    ("kibana", "password"): "KIBANA_PASSWORD",
}


@pytest.fixture
def stack_with_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A stack folder whose env file alone holds every credential (the process environment none)."""
    for name in STACK_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("STEAM_PLATFORM_ENV", raising=False)
    monkeypatch.setenv("STEAM_STACK_DIR", str(tmp_path))
    plain = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "steam",
        "ELASTICSEARCH_USERNAME": "elastic",
        "KIBANA_URL": "http://127.0.0.1:5601",
        "KIBANA_USERNAME": "elastic",
    }
    lines = [f"export {k}={v}\n" for k, v in {**plain, **STACK_CREDENTIALS}.items()]
    (tmp_path / "env").write_text("".join(lines))
    return tmp_path


def test_the_ui_shows_the_stacks_credentials_as_env_var_names_and_a_run_resolves_them(
    stack_with_credentials: Path,
) -> None:
    resources = build_resources(Environment.LOCAL)
    repository = dg.Definitions(resources=resources).get_repository_def()
    snapshot = RepositorySnap.from_def(repository)

    shown = serialize_value(snapshot)  # what the code server sends the webserver
    leaked = [name for name, value in STACK_CREDENTIALS.items() if value in shown]
    assert leaked == [], f"credential values in the UI's resource config: {leaked}"
    configured = {r.name: r.configured_values for r in snapshot.resources}
    for (resource, field), variable in EXPECTED_ENV_VARS.items():
        assert configured[resource][field] == ResourceConfigEnvVarSnap(name=variable), (resource, field)
    assert configured["kafka"]["sasl_username"] == '"steam"'  # not a secret: plain config (JSON)

    with dg.build_resources({"s3": resources["s3"], "kafka": resources["kafka"]}) as built:
        s3_pair = built.s3.spark_credentials()
        kafka_password = built.kafka.producer_config()["sasl.password"]
    assert s3_pair == {
        "fs.s3a.access.key": STACK_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "fs.s3a.secret.key": STACK_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }
    assert kafka_password == STACK_CREDENTIALS["KAFKA_SASL_PASSWORD"]


def test_the_process_environment_wins_and_a_copied_credential_follows_the_env_file(
    stack_with_credentials: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = stack_with_credentials / "env"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "set-by-the-operator")
    export_stack_credentials([SteamSettings, LakeSettings])
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == "set-by-the-operator"
    assert os.environ["STEAM_API_KEY"] == STACK_CREDENTIALS["STEAM_API_KEY"]

    # The stack came up again with a new key: the copy follows; then without one: the copy goes.
    env_file.write_text("export STEAM_API_KEY=the-new-stack-key\n")
    export_stack_credentials([SteamSettings])
    assert os.environ["STEAM_API_KEY"] == "the-new-stack-key"
    env_file.write_text("")
    export_stack_credentials([SteamSettings])
    assert "STEAM_API_KEY" not in os.environ
    assert build_resources(Environment.LOCAL)["steam"].api_key is None  # never an EnvVar of nothing

    # Production reads the process environment only: nothing copied from a stack file stays.
    env_file.write_text("export STEAM_API_KEY=the-new-stack-key\n")
    export_stack_credentials([SteamSettings], Environment.LOCAL)
    export_stack_credentials([SteamSettings], Environment.PRODUCTION)
    assert "STEAM_API_KEY" not in os.environ
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == "set-by-the-operator"


def test_a_child_started_while_credentials_are_withheld_does_not_inherit_them(
    stack_with_credentials: Path,
) -> None:
    """The Spark driver's JVM is started so: its S3A keys travel in its Hadoop configuration."""
    build_resources(Environment.LOCAL)  # copies the stack's pair into this process's environment
    probe = [sys.executable, "-c", "import os; print(os.environ.get('AWS_SECRET_ACCESS_KEY'))"]
    with credentials_withheld(LakeSettings.credential_names()):
        seen = subprocess.run(probe, capture_output=True, text=True, check=True, timeout=30).stdout
    assert seen.strip() == "None"
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == STACK_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]  # back
