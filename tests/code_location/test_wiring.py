"""Resource wiring: a real Steam key never becomes plain resource config (the UI shows config)."""

import os
from pathlib import Path

import dagster as dg
import pytest

from steam_platform.core.settings import Environment
from steam_platform.resources.wiring import build_resources


def _servers_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What production needs to build every resource: Steam's, Kafka's, Elasticsearch's and the lake's."""
    monkeypatch.setenv("STEAM_API_BASE_URL", "https://api.steampowered.com")
    for key in ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_REPLICATION_FACTOR", "KAFKA_MIN_INSYNC_REPLICAS"):
        monkeypatch.setenv(key, "1" if key != "KAFKA_BOOTSTRAP_SERVERS" else "127.0.0.1:9092")
    monkeypatch.setenv("ELASTICSEARCH_URL", "http://127.0.0.1:9200")
    monkeypatch.setenv("LAKE_BUCKET", "steam-lake")


@pytest.mark.parametrize("env", [Environment.LOCAL, Environment.PRODUCTION])
def test_a_steam_key_from_the_environment_stays_an_env_var(
    env: Environment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEAM_API_KEY", "0123456789ABCDEF0123456789ABCDEF")
    _servers_in_the_environment(monkeypatch)

    steam = build_resources(env)["steam"]

    assert isinstance(steam.api_key, dg.EnvVar)
    assert steam.api_key == "STEAM_API_KEY"  # the variable's name, not its value
    assert steam.api_base_url == "https://api.steampowered.com"


@pytest.mark.parametrize("env", [Environment.LOCAL, Environment.PRODUCTION])
def test_the_steam_retry_budget_comes_from_the_environment(
    env: Environment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator shortens (or lengthens) how long one item is retried before it is skipped."""
    _servers_in_the_environment(monkeypatch)
    default = build_resources(env)["steam"]
    assert (default.max_attempts, default.backoff_max_s) == (6, 60.0)

    monkeypatch.setenv("STEAM_RETRY_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("STEAM_RETRY_BACKOFF_MAX_S", "2.5")
    steam = build_resources(env)["steam"]
    assert (steam.max_attempts, steam.backoff_max_s) == (3, 2.5)

    monkeypatch.setenv("STEAM_RETRY_MAX_ATTEMPTS", "0")
    with pytest.raises(ValueError, match="STEAM_RETRY_MAX_ATTEMPTS"):
        build_resources(env)


def test_local_without_a_key_in_the_environment_takes_the_stack_simulator_key_as_an_env_var(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("STEAM_API_KEY", raising=False)
    monkeypatch.setenv("STEAM_STACK_DIR", str(tmp_path))
    (tmp_path / "env").write_text(
        "export STEAM_API_KEY=local-simulator-key\nexport STEAM_API_BASE_URL=http://127.0.0.1:8787\n"
    )

    steam = build_resources(Environment.LOCAL)["steam"]

    assert isinstance(steam.api_key, dg.EnvVar) and steam.api_key == "STEAM_API_KEY"
    assert steam.api_key.get_value() == "local-simulator-key"  # copied from the env file, resolvable
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


def test_the_local_stacks_s3_pair_is_env_vars_that_resolve_to_the_env_files_pair(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("STEAM_STACK_DIR", str(tmp_path))
    (tmp_path / "env").write_text(
        "export AWS_ACCESS_KEY_ID=steam-local\nexport AWS_SECRET_ACCESS_KEY=steam-local-secret\n"
    )

    resources = build_resources(Environment.LOCAL)

    assert resources["s3"].secret_access_key == "AWS_SECRET_ACCESS_KEY"
    assert isinstance(resources["s3"].access_key_id, dg.EnvVar)
    assert "steam-local-secret" not in repr(resources["s3"]) + repr(resources["pyspark"])
    with dg.build_resources({"s3": resources["s3"]}) as built:
        assert built.s3.spark_credentials()["fs.s3a.secret.key"] == "steam-local-secret"


COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "docker-compose.yml"


def _compose_dagster_env() -> dict[str, str]:
    """The environment compose gives the Dagster services: `${VAR:-default}` taken as the default,
    a required `${VAR:?message}` (every password) as the operator's value for VAR."""
    import re

    import yaml

    env = yaml.safe_load(COMPOSE.read_text())["x-dagster-env"]
    defaulted = {k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(v)) for k, v in env.items()}
    return {k: re.sub(r"\$\{([A-Z_]+):\?[^}]*\}", r"operator-set-\1", v) for k, v in defaulted.items()}


@pytest.mark.parametrize("key", ["kafka", "steam", "s3", "elasticsearch", "kibana"])
def test_the_compose_environment_is_enough_for_every_production_resource(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    """A deployment with the documented variables starts: every `EnvVar` a resource reads resolves
    (an unauthenticated Kafka needs no `KAFKA_SASL_*`), and the values are the compose ones."""
    env = _compose_dagster_env()
    for name in [n for n in list(os.environ) if n.startswith(("KAFKA_", "STEAM_", "AWS_"))]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    resources = build_resources(Environment.PRODUCTION)
    with dg.build_resources({key: resources[key]}) as built:
        resource = getattr(built, key)
        if key == "kafka":
            config = resource.producer_config()
            assert config["bootstrap.servers"] == env["KAFKA_BOOTSTRAP_SERVERS"]
            assert config["security.protocol"] == "PLAINTEXT"
            assert "sasl.mechanism" not in config
            assert resource.replication_factor == 3
        elif key == "s3":
            assert resource.bucket == env["LAKE_BUCKET"]
        elif key == "elasticsearch":
            assert resource.url == env["ELASTICSEARCH_URL"]
        elif key == "steam":
            assert resource.api_base_url == env["STEAM_API_BASE_URL"]


def test_production_kafka_with_sasl_settings_authenticates(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "KAFKA_BOOTSTRAP_SERVERS": "b1:9096",
        "KAFKA_REPLICATION_FACTOR": "3",
        "KAFKA_MIN_INSYNC_REPLICAS": "2",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "platform",
        "KAFKA_SASL_PASSWORD": "s3cr3t",
    }.items():
        monkeypatch.setenv(name, value)
    with dg.build_resources({"kafka": build_resources(Environment.PRODUCTION)["kafka"]}) as built:
        config = built.kafka.producer_config()
    assert config["security.protocol"] == "SASL_SSL"
    assert (config["sasl.mechanism"], config["sasl.username"], config["sasl.password"]) == (
        "SCRAM-SHA-512",
        "platform",
        "s3cr3t",
    )


def test_production_spark_on_a_remote_cluster_advertises_the_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARK_MASTER", "spark://spark-master:7077")
    monkeypatch.setenv("SPARK_DRIVER_HOST", "10.0.0.5")
    monkeypatch.setenv("SPARK_DRIVER_BIND_ADDRESS", "0.0.0.0")
    resources = build_resources(Environment.PRODUCTION)
    conf = resources["pyspark"].spark_config
    assert conf["spark.master"] == "spark://spark-master:7077"
    assert (conf["spark.driver.host"], conf["spark.driver.bindAddress"]) == ("10.0.0.5", "0.0.0.0")
    assert resources["pipes_subprocess"].env["SPARK_DRIVER_HOST"] == "10.0.0.5"
    # spark-submit gets both from the client's environment, not from the launching process's.
    assert resources["pipes_subprocess"].env["SPARK_DRIVER_BIND_ADDRESS"] == "0.0.0.0"
    monkeypatch.delenv("SPARK_DRIVER_HOST")
    local_conf = build_resources(Environment.PRODUCTION)["pyspark"].spark_config
    assert local_conf["spark.driver.host"] == "127.0.0.1"


@pytest.mark.parametrize("env", [Environment.LOCAL, Environment.PRODUCTION])
def test_a_configured_kibana_version_reaches_the_resource(
    monkeypatch: pytest.MonkeyPatch, env: Environment
) -> None:
    """Kibana 9.5+ hides its version from users without `cluster:monitor`: `KIBANA_VERSION` says it."""
    monkeypatch.setenv("KIBANA_URL", "http://kibana.example:5601")
    monkeypatch.setenv("ELASTICSEARCH_URL", "http://es.example:9200")
    monkeypatch.delenv("KIBANA_VERSION", raising=False)
    assert build_resources(env)["kibana"].version is None
    monkeypatch.setenv("KIBANA_VERSION", "9.5.1")
    assert build_resources(env)["kibana"].version == "9.5.1"


@pytest.mark.parametrize("env", [Environment.LOCAL, Environment.PRODUCTION])
def test_a_private_ca_for_elasticsearch_reaches_the_resource(
    monkeypatch: pytest.MonkeyPatch, env: Environment, tmp_path: Path
) -> None:
    """Elasticsearch 8/9 serve https with a CA of their own: `ELASTICSEARCH_CA_CERTS` names it."""
    monkeypatch.setenv("ELASTICSEARCH_URL", "https://es.example:9200")
    monkeypatch.delenv("ELASTICSEARCH_CA_CERTS", raising=False)
    assert build_resources(env)["elasticsearch"].ca_certs is None
    ca = tmp_path / "http_ca.crt"
    monkeypatch.setenv("ELASTICSEARCH_CA_CERTS", str(ca))
    assert build_resources(env)["elasticsearch"].ca_certs == str(ca)
