"""Resources per environment: the local stack by default, environment variables in production."""

from __future__ import annotations

import os
import sys
from typing import Any

import dagster as dg

from steam_platform.core.settings import Environment, LocalEndpoints, current_environment
from steam_platform.resources.elasticsearch import ElasticsearchResource
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.kibana import KibanaResource
from steam_platform.resources.s3 import S3Resource
from steam_platform.resources.spark import (
    DEFAULT_MASTER,
    SUBMIT_DRIVER_BIND_ENV,
    SUBMIT_DRIVER_HOST_ENV,
    build_pipes_client,
    build_pyspark_resource,
    driver_address_conf,
)
from steam_platform.resources.steam_api import STEAM_API_BASE_URL, STEAM_STORE_BASE_URL, SteamApiResource
from streaming.spark_session import expand_jars


def _local_kafka(local: LocalEndpoints) -> KafkaResource:
    """The stack's cluster: durability by its size; security, user and CA from its env (sasl_ssl)."""
    brokers = local.kafka_brokers
    return KafkaResource(
        bootstrap_servers=local.kafka_bootstrap_servers,
        replication_factor=3 if brokers >= 3 else 1,
        min_insync_replicas=2 if brokers >= 3 else 1,
        security_protocol=local.kafka_security_protocol,
        sasl_mechanism=local.kafka_sasl_mechanism or None,
        sasl_username=local.kafka_sasl_username or None,
        # As for the S3 keys: a password in the process environment stays an EnvVar (the UI shows
        # plain config); the stack's generated one from `.stack/env` is plain config.
        sasl_password=_optional_env("KAFKA_SASL_PASSWORD") or local.kafka_sasl_password or None,
        ssl_ca_location=local.kafka_ssl_ca_location or None,
    )


def _production_kafka() -> KafkaResource:
    """Brokers and durability are required; security is PLAINTEXT unless the SASL settings are set
    (a cluster without authentication needs none of the `KAFKA_SASL_*` variables).
    `KAFKA_SSL_CA_LOCATION` (optional) is the PEM file of the CA that signed the brokers' certificates;
    unset, TLS trusts the system's CAs."""
    return KafkaResource(
        bootstrap_servers=dg.EnvVar("KAFKA_BOOTSTRAP_SERVERS"),
        replication_factor=dg.EnvVar.int("KAFKA_REPLICATION_FACTOR"),
        min_insync_replicas=dg.EnvVar.int("KAFKA_MIN_INSYNC_REPLICAS"),
        security_protocol=os.environ.get("KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT",
        sasl_mechanism=_optional_env("KAFKA_SASL_MECHANISM"),
        sasl_username=_optional_env("KAFKA_SASL_USERNAME"),
        sasl_password=_optional_env("KAFKA_SASL_PASSWORD"),
        ssl_ca_location=os.environ.get("KAFKA_SSL_CA_LOCATION") or None,
    )


def _optional_env(key: str) -> dg.EnvVar | None:
    """`EnvVar(key)` when the variable is set at load time, else None (an optional setting)."""
    return dg.EnvVar(key) if os.environ.get(key) else None


def _search_resources(env: Environment, local: LocalEndpoints | None) -> dict[str, Any]:
    """`elasticsearch` and `kibana`: the local stack's node (no Kibana locally), or env-provided."""
    if env is Environment.PRODUCTION:
        return {
            "elasticsearch": ElasticsearchResource(
                url=dg.EnvVar("ELASTICSEARCH_URL"),
                username=_optional_env("ELASTICSEARCH_USERNAME"),
                password=_optional_env("ELASTICSEARCH_PASSWORD"),
                api_key=_optional_env("ELASTICSEARCH_API_KEY"),
                index_replicas=int(os.environ.get("ELASTICSEARCH_INDEX_REPLICAS", "1")),
            ),
            "kibana": KibanaResource(
                url=_optional_env("KIBANA_URL"),
                username=_optional_env("KIBANA_USERNAME"),
                password=_optional_env("KIBANA_PASSWORD"),
            ),
        }
    assert local is not None
    return {
        "elasticsearch": ElasticsearchResource(url=local.elasticsearch_url),
        "kibana": KibanaResource(url=local.kibana_url or None),
    }


def _lake_resources(env: Environment, local: LocalEndpoints | None) -> dict[str, Any]:
    """`s3` (the lake's store), `pyspark` (local Spark with the connector jars, S3A on `s3`) and
    `pipes_subprocess` (launches `spark-submit` jobs such as continuous bronze with the same settings)."""
    if env is Environment.PRODUCTION:
        endpoint = os.environ.get("S3_ENDPOINT_URL") or None
        s3 = S3Resource(
            endpoint_url=endpoint,
            region=dg.EnvVar("AWS_REGION"),
            access_key_id=_optional_env("AWS_ACCESS_KEY_ID"),
            secret_access_key=_optional_env("AWS_SECRET_ACCESS_KEY"),
            bucket=dg.EnvVar("LAKE_BUCKET"),
            path_style=os.environ.get("S3_PATH_STYLE", "true" if endpoint else "false").lower() == "true",
        )
        jars = expand_jars(os.environ.get("STEAM_SPARK_JARS"))
        master = os.environ.get("SPARK_MASTER", "local[2]")
        driver_memory = os.environ.get("SPARK_DRIVER_MEMORY", "1g")
        driver_host = os.environ.get(SUBMIT_DRIVER_HOST_ENV) or None
        driver_bind = os.environ.get(SUBMIT_DRIVER_BIND_ENV) or None
        pyspark = build_pyspark_resource(
            s3,
            jars=jars,
            master=master,
            driver_memory=driver_memory,
            extra_conf=driver_address_conf(driver_host, driver_bind),
        )
        pipes = build_pipes_client(
            jars=jars,
            master=master,
            driver_memory=driver_memory,
            driver_host=driver_host,
            driver_bind_address=driver_bind,
        )
        return {"s3": s3, "pyspark": pyspark, "pipes_subprocess": pipes}
    assert local is not None
    s3 = S3Resource(
        endpoint_url=local.s3_endpoint_url,
        region=local.aws_region,
        # As for the Steam key: a key pair in the process environment may be real, so it stays an
        # EnvVar (the UI shows plain config); the stack's fixed local pair from `.stack/env` is not.
        access_key_id=_optional_env("AWS_ACCESS_KEY_ID") or local.aws_access_key_id,
        secret_access_key=_optional_env("AWS_SECRET_ACCESS_KEY") or local.aws_secret_access_key,
        bucket=local.lake_bucket,
        path_style=True,
    )
    # `stack up` writes the resolved connector jars into the stack env (STEAM_SPARK_JARS), and with
    # `--spark-cluster` the standalone master (SPARK_MASTER); without it Spark runs `local[2]`.
    jars = expand_jars(local.steam_spark_jars)
    master = local.spark_master or DEFAULT_MASTER
    # Executors on the stack's workers run this interpreter, so they import the same packages.
    return {
        "s3": s3,
        "pyspark": build_pyspark_resource(s3, jars=jars, master=master, python=sys.executable),
        "pipes_subprocess": build_pipes_client(jars=jars, master=master, python=sys.executable),
    }


def _steam(env: Environment, local: LocalEndpoints | None) -> SteamApiResource:
    """`steam`: the local stack's simulator (URLs and key from its env), or Steam with an env key."""
    if env is Environment.PRODUCTION:
        return SteamApiResource(
            api_base_url=os.environ.get("STEAM_API_BASE_URL", STEAM_API_BASE_URL),
            store_base_url=os.environ.get("STEAM_STORE_BASE_URL", STEAM_STORE_BASE_URL),
            api_key=_optional_env("STEAM_API_KEY"),
            budget_state_dir=os.environ.get("STEAM_BUDGET_STATE_DIR"),
        )
    assert local is not None
    return SteamApiResource(
        api_base_url=local.steam_api_base_url,
        store_base_url=local.steam_store_base_url,
        # A key in the process environment may be a real one: pass it as EnvVar so it never shows in
        # the UI's resource config; the simulator's fixed key from `.stack/env` is not a secret.
        api_key=_optional_env("STEAM_API_KEY") or local.steam_api_key or None,
    )


def build_resources(env: Environment | None = None) -> dict[str, Any]:
    """The resource dict for `env` (default: `STEAM_PLATFORM_ENV`)."""
    env = env or current_environment()
    if env is Environment.PRODUCTION:
        return {
            "kafka": _production_kafka(),
            "steam": _steam(env, None),
            **_lake_resources(env, None),
            **_search_resources(env, None),
        }
    local = LocalEndpoints.load()
    return {
        "kafka": _local_kafka(local),
        "steam": _steam(env, local),
        **_lake_resources(env, local),
        **_search_resources(env, local),
    }
