"""Resources per environment: the local stack by default, environment variables in production."""

from __future__ import annotations

from typing import Any

import dagster as dg

from steam_platform.resources.kafka import KafkaResource
from steam_platform.settings import Environment, current_environment, local_setting


def _local_kafka() -> KafkaResource:
    brokers = int(local_setting("KAFKA_BROKERS", "1") or "1")
    return KafkaResource(
        bootstrap_servers=local_setting("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19093") or "",
        replication_factor=3 if brokers >= 3 else 1,
        min_insync_replicas=2 if brokers >= 3 else 1,
    )


def _production_kafka() -> KafkaResource:
    return KafkaResource(
        bootstrap_servers=dg.EnvVar("KAFKA_BOOTSTRAP_SERVERS"),
        replication_factor=dg.EnvVar.int("KAFKA_REPLICATION_FACTOR"),
        min_insync_replicas=dg.EnvVar.int("KAFKA_MIN_INSYNC_REPLICAS"),
        security_protocol=dg.EnvVar("KAFKA_SECURITY_PROTOCOL"),
        sasl_mechanism=dg.EnvVar("KAFKA_SASL_MECHANISM"),
        sasl_username=dg.EnvVar("KAFKA_SASL_USERNAME"),
        sasl_password=dg.EnvVar("KAFKA_SASL_PASSWORD"),
    )


def build_resources(env: Environment | None = None) -> dict[str, Any]:
    """The resource dict for `env` (default: `STEAM_PLATFORM_ENV`)."""
    env = env or current_environment()
    if env is Environment.PRODUCTION:
        return {"kafka": _production_kafka()}
    return {"kafka": _local_kafka()}
