"""S3Resource and the pyspark resource: settings derived for each client, secrets kept out of sight."""

from __future__ import annotations

import dagster as dg
import pytest

from steam_platform.core.settings import Environment
from steam_platform.resources.s3 import S3Resource
from steam_platform.resources.spark import LakePySparkResource, MissingSparkJarsError, build_pyspark_resource
from steam_platform.resources.wiring import build_resources
from streaming.spark_session import (
    MissingConnectorJarsError,
    connector_jars_from_env,
    expand_jars,
    s3a_conf_from_env,
)

SECRET = "s3cr3t-value-never-shown"


def _local() -> S3Resource:
    return S3Resource(
        endpoint_url="http://127.0.0.1:19000", access_key_id="steam-local", secret_access_key=SECRET
    )


def test_secrets_are_not_in_repr_str_or_spark_conf() -> None:
    s3 = _local()
    pyspark = build_pyspark_resource(s3, jars=["/jars/a.jar"])
    assert SECRET not in repr(s3) and SECRET not in str(s3)
    assert SECRET not in str(s3.spark_hadoop_conf())
    assert SECRET not in str(pyspark.spark_config)
    assert s3.spark_credentials() == {"fs.s3a.access.key": "steam-local", "fs.s3a.secret.key": SECRET}


def test_s3a_conf_for_a_local_http_endpoint() -> None:
    conf = _local().spark_hadoop_conf()
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:19000"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert conf["spark.hadoop.fs.s3a.checksum.generation"] == "false"
    assert "SimpleAWSCredentialsProvider" in conf["spark.hadoop.fs.s3a.aws.credentials.provider"]


def test_s3a_conf_for_aws_keeps_the_default_credential_chain() -> None:
    conf = S3Resource(region="eu-west-1", path_style=False).spark_hadoop_conf()
    assert "spark.hadoop.fs.s3a.endpoint" not in conf
    assert "spark.hadoop.fs.s3a.aws.credentials.provider" not in conf
    assert conf["spark.hadoop.fs.s3a.endpoint.region"] == "eu-west-1"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "false"
    assert S3Resource().spark_credentials() == {}


def test_lake_root_and_path() -> None:
    s3 = S3Resource(bucket="my-lake")
    assert s3.lake_root() == "s3a://my-lake/lake"
    assert s3.lake_root("s3") == "s3://my-lake/lake"
    assert s3.lake_path() == "my-lake/lake"


def test_half_a_key_pair_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="both access_key_id and secret_access_key"):
        S3Resource(access_key_id="only-the-id").client()


def test_pyspark_session_settings() -> None:
    conf = build_pyspark_resource(_local(), jars=["/j/a.jar", "/j/b.jar"]).session_conf()
    assert conf["spark.master"] == "local[2]"
    assert conf["spark.driver.memory"] == "1g"
    assert conf["spark.jars"] == "/j/a.jar,/j/b.jar"
    assert conf["spark.sql.sources.partitionOverwriteMode"] == "dynamic"
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.ui.enabled"] == "false"
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:19000"


def test_missing_connector_jars_fail_before_spark_starts(tmp_path) -> None:
    pyspark = build_pyspark_resource(_local(), jars=[str(tmp_path / "absent.jar")])
    with pytest.raises(RuntimeError, match="stack install"):
        pyspark.setup_for_execution(dg.build_init_resource_context())


def test_no_connector_jars_configured_is_a_clear_error() -> None:
    """Without STEAM_SPARK_JARS (stack not up, or unset in production) Spark would start without
    the Kafka source and S3A and fail much later; the resource says what to set instead."""
    pyspark = build_pyspark_resource(_local(), jars=[])
    with pytest.raises(MissingSparkJarsError, match="STEAM_SPARK_JARS"):
        pyspark.setup_for_execution(dg.build_init_resource_context())


def test_jars_from_the_environment(tmp_path) -> None:
    jar = tmp_path / "kafka.jar"
    jar.write_bytes(b"")
    assert connector_jars_from_env(environ={"STEAM_SPARK_JARS": f"{jar}:"}) == [str(jar)]
    with pytest.raises(MissingConnectorJarsError, match="stack install"):
        connector_jars_from_env(environ={})
    with pytest.raises(MissingConnectorJarsError, match="missing"):
        connector_jars_from_env(environ={"STEAM_SPARK_JARS": str(tmp_path / "nope.jar")})
    assert expand_jars("a.jar::b.jar") == ["a.jar", "b.jar"]
    # A folder stands for its jars (the Docker image sets STEAM_SPARK_JARS to the cache folder).
    (tmp_path / "hadoop-aws.jar").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a jar")
    expected = [str(tmp_path / "hadoop-aws.jar"), str(jar)]
    assert connector_jars_from_env(environ={"STEAM_SPARK_JARS": str(tmp_path)}) == expected
    assert expand_jars(str(tmp_path)) == expected


def test_s3a_conf_from_env_for_spark_submit() -> None:
    conf = s3a_conf_from_env({"S3_ENDPOINT_URL": "http://127.0.0.1:19000", "AWS_REGION": "us-east-1"})
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert "EnvironmentVariableCredentialsProvider" in conf["spark.hadoop.fs.s3a.aws.credentials.provider"]
    assert not any("secret" in k for k in conf)


def test_wiring_production_reads_credentials_from_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA-PROD")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("S3_ENDPOINT_URL", raising=False)
    resources = build_resources(Environment.PRODUCTION)
    s3, pyspark = resources["s3"], resources["pyspark"]
    assert isinstance(pyspark, LakePySparkResource)
    assert s3.endpoint_url is None and s3.path_style is False
    # Values stay EnvVar references until a run starts: nothing secret in the definitions.
    assert SECRET not in repr(resources)
    assert isinstance(s3.secret_access_key, dg.EnvVar)
