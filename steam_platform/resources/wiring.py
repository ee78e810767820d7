"""Resources per environment: the local stack by default, environment variables in production.

Every credential reaches a resource as `dg.EnvVar(<name>)` in both environments, so the UI's
resource config shows the variable's name, never its value. Locally the stack's env file supplies
some of them (its S3 key pair, Kafka password, simulator key): `export_stack_credentials` copies
those into the process environment first, where the `EnvVar`s resolve. Hosts, ports and user names
stay plain config.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import dagster as dg

from steam_platform.core.settings import (
    Environment,
    KafkaSettings,
    LakeSettings,
    SearchSettings,
    SettingsGroup,
    SparkSettings,
    SteamSettings,
    current_environment,
    export_stack_credentials,
)
from steam_platform.resources.elasticsearch import ElasticsearchResource
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.kibana import KibanaResource
from steam_platform.resources.s3 import S3Resource
from steam_platform.resources.spark import build_pipes_client, build_pyspark_resource
from steam_platform.resources.steam_api import SteamApiResource
from streaming.spark_session import driver_address_conf, expand_jars


def _env_var(group: type[SettingsGroup], field: str) -> dg.EnvVar:
    """`EnvVar` of the variable behind `group.field`: resolved when a run uses the resource."""
    return dg.EnvVar(group.env_name(field))


def _env_var_if_set(process: SettingsGroup, field: str) -> dg.EnvVar | None:
    """`EnvVar` of `field` when the process environment sets it at load time, else None (never an
    `EnvVar` of an unset variable, which would fail the run that resolves it)."""
    return _env_var(type(process), field) if process.is_set(field) else None


def _local_kafka(local: KafkaSettings, process: KafkaSettings) -> KafkaResource:
    """The stack's cluster: durability by its size; security, user and CA from its env (sasl_ssl)."""
    brokers = local.brokers
    return KafkaResource(
        bootstrap_servers=local.bootstrap_servers,
        replication_factor=3 if brokers >= 3 else 1,
        min_insync_replicas=2 if brokers >= 3 else 1,
        security_protocol=local.security_protocol,
        sasl_mechanism=local.sasl_mechanism,
        sasl_username=local.sasl_username,
        sasl_password=_env_var_if_set(process, "sasl_password"),
        ssl_ca_location=local.ssl_ca_location,
    )


def _production_kafka(kafka: KafkaSettings) -> KafkaResource:
    """Brokers and durability are required; security is PLAINTEXT unless the SASL settings are set
    (a cluster without authentication needs none of the `KAFKA_SASL_*` variables).
    `KAFKA_SSL_CA_LOCATION` (optional) is the PEM file of the CA that signed the brokers' certificates;
    unset, TLS trusts the system's CAs."""
    return KafkaResource(
        bootstrap_servers=_env_var(KafkaSettings, "bootstrap_servers"),
        replication_factor=dg.EnvVar.int(KafkaSettings.env_name("replication_factor")),
        min_insync_replicas=dg.EnvVar.int(KafkaSettings.env_name("min_insync_replicas")),
        security_protocol=kafka.security_protocol,
        sasl_mechanism=_env_var_if_set(kafka, "sasl_mechanism"),
        sasl_username=_env_var_if_set(kafka, "sasl_username"),
        sasl_password=_env_var_if_set(kafka, "sasl_password"),
        ssl_ca_location=kafka.ssl_ca_location,
    )


def _optional_path(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _search_resources(env: Environment) -> dict[str, Any]:
    """`elasticsearch` and `kibana`: the local stack's node (no Kibana locally), or env-provided."""
    search = SearchSettings.load(env)
    if env is Environment.PRODUCTION:
        return {
            "elasticsearch": ElasticsearchResource(
                url=_env_var(SearchSettings, "elasticsearch_url"),
                username=_env_var_if_set(search, "elasticsearch_username"),
                password=_env_var_if_set(search, "elasticsearch_password"),
                api_key=_env_var_if_set(search, "elasticsearch_api_key"),
                ca_certs=_optional_path(search.elasticsearch_ca_certs),
                index_replicas=search.index_replicas,
                index_shards=search.index_shards,
            ),
            "kibana": KibanaResource(
                url=_env_var_if_set(search, "kibana_url"),
                username=_env_var_if_set(search, "kibana_username"),
                password=_env_var_if_set(search, "kibana_password"),
                version=search.kibana_version,
            ),
        }
    process = SearchSettings.from_process_environment()
    return {
        "elasticsearch": ElasticsearchResource(
            url=search.elasticsearch_url,
            username=search.elasticsearch_username,
            password=_env_var_if_set(process, "elasticsearch_password"),
            api_key=_env_var_if_set(process, "elasticsearch_api_key"),
            ca_certs=_optional_path(search.elasticsearch_ca_certs),
            index_replicas=search.index_replicas,
            index_shards=search.index_shards,
        ),
        "kibana": KibanaResource(
            url=search.kibana_url,
            username=search.kibana_username,
            password=_env_var_if_set(process, "kibana_password"),
            version=search.kibana_version,
        ),
    }


def _lake_resources(env: Environment) -> dict[str, Any]:
    """`s3` (the lake's store), `pyspark` (Spark with the connector jars, S3A on `s3`) and
    `pipes_subprocess` (launches `spark-submit` jobs such as continuous bronze with the same settings)."""
    lake = LakeSettings.load(env)
    if env is Environment.PRODUCTION:
        s3 = S3Resource(
            endpoint_url=lake.endpoint_url,
            region=_env_var(LakeSettings, "region"),
            access_key_id=_env_var_if_set(lake, "access_key_id"),
            secret_access_key=_env_var_if_set(lake, "secret_access_key"),
            bucket=_env_var(LakeSettings, "bucket"),
            path_style=lake.path_style_access,
        )
        # Executors run whatever PYSPARK_PYTHON names on the cluster (PySpark's choice).
        python = None
    else:
        process = LakeSettings.from_process_environment()
        s3 = S3Resource(
            endpoint_url=lake.endpoint_url,
            region=lake.region,
            access_key_id=_env_var_if_set(process, "access_key_id"),
            secret_access_key=_env_var_if_set(process, "secret_access_key"),
            bucket=lake.bucket,
            path_style=lake.path_style_access,
        )
        # Executors on the stack's workers run this interpreter, so they import the same packages.
        python = sys.executable
    # `stack up` writes the resolved connector jars into the stack env (STEAM_SPARK_JARS), and with
    # `--spark-cluster` the standalone master (SPARK_MASTER); unset, Spark runs `local[2]`.
    spark = SparkSettings.load(env)
    jars = expand_jars(spark.jars)
    pyspark = build_pyspark_resource(
        s3,
        jars=jars,
        master=spark.master,
        driver_memory=spark.driver_memory,
        extra_conf=driver_address_conf(spark.driver_host, spark.driver_bind_address),
        python=python,
        remote=spark.remote,
    )
    pipes = build_pipes_client(
        jars=jars,
        master=spark.master,
        driver_memory=spark.driver_memory,
        python=python,
        driver_host=spark.driver_host,
        driver_bind_address=spark.driver_bind_address,
    )
    return {"s3": s3, "pyspark": pyspark, "pipes_subprocess": pipes}


def _steam(env: Environment) -> SteamApiResource:
    """`steam`: the local stack's simulator (URLs and key from its env), or Steam with an env key."""
    steam = SteamSettings.load(env)
    process = steam if env is Environment.PRODUCTION else SteamSettings.from_process_environment()
    return SteamApiResource(
        api_base_url=steam.api_base_url,
        store_base_url=steam.store_base_url,
        api_key=_env_var_if_set(process, "api_key"),
        budget_state_dir=str(steam.budget_state_dir) if steam.budget_state_dir else None,
        max_attempts=steam.retry_max_attempts,
        backoff_max_s=steam.retry_backoff_max_s,
    )


#: The groups whose credentials resources take (as `EnvVar`s).
_CREDENTIAL_GROUPS = (KafkaSettings, LakeSettings, SearchSettings, SteamSettings)


def build_resources(env: Environment | None = None) -> dict[str, Any]:
    """The resource dict for `env` (default: `STEAM_PLATFORM_ENV`)."""
    env = env or current_environment()
    export_stack_credentials(_CREDENTIAL_GROUPS, env)
    if env is Environment.PRODUCTION:
        kafka = _production_kafka(KafkaSettings.load(env))
    else:
        kafka = _local_kafka(KafkaSettings.load(env), KafkaSettings.from_process_environment())
    return {"kafka": kafka, "steam": _steam(env), **_lake_resources(env), **_search_resources(env)}
