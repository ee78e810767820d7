"""What a Spark job of the lake reads from its environment: the one module of `streaming/` that does.

A job under `spark-submit` (launched by Dagster Pipes, or by hand from a shell that sourced
`.stack/env`) gets its connector jars, its S3 endpoint and region, its Kafka security options
(secrets included, so never on the command line) and its checkpoint lease timing as environment
variables. `streaming/` is plain
PySpark and may not import the platform, so it cannot use the platform's settings object
(`steam_platform/core/settings.py`); instead the names and defaults live here, and the settings
object declares these same variables with these constants (type, description, docs table), so the
two cannot drift apart. A test (`tests/code_location/test_settings_single_source.py`) proves every
variable read here is one the settings object documents, and that nothing else in `streaming/`
reads the environment.

The Spark defaults (`local[2]`, a 1 GiB driver heap) are written here once: the jobs' sessions, the
Dagster `pyspark` resource and the settings object's `SPARK_MASTER`/`SPARK_DRIVER_MEMORY` defaults
all use them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

#: Connector jars (Kafka source, S3A): colon-separated paths, a folder standing for its `*.jar`.
SPARK_JARS_ENV = "STEAM_SPARK_JARS"
#: The S3-compatible endpoint of the lake (unset: AWS S3).
S3_ENDPOINT_URL_ENV = "S3_ENDPOINT_URL"
#: The lake's S3 region.
AWS_REGION_ENV = "AWS_REGION"
#: Kafka source options (`kafka.*`) as a JSON object: security settings, the SASL JAAS line included.
BRONZE_KAFKA_OPTIONS_ENV = "BRONZE_KAFKA_OPTIONS"
#: Seconds a bronze checkpoint's lease lives without renewal (`streaming/checkpoint_lease.py`).
BRONZE_LEASE_TTL_S_ENV = "BRONZE_LEASE_TTL_S"
#: Seconds between the lease holder's renewals (at most a third of the ttl).
BRONZE_LEASE_HEARTBEAT_S_ENV = "BRONZE_LEASE_HEARTBEAT_S"
#: Every platform variable a job reads (each one is declared by the platform's settings object).
JOB_VARIABLES = (
    SPARK_JARS_ENV,
    S3_ENDPOINT_URL_ENV,
    AWS_REGION_ENV,
    BRONZE_KAFKA_OPTIONS_ENV,
    BRONZE_LEASE_TTL_S_ENV,
    BRONZE_LEASE_HEARTBEAT_S_ENV,
)

#: Set by `spark-submit` for the Python driver it starts (Spark's own handshake, not a setting).
SPARK_GATEWAY_PORT_ENV = "PYSPARK_GATEWAY_PORT"

DEFAULT_SPARK_MASTER = "local[2]"
DEFAULT_DRIVER_MEMORY = "1g"
DEFAULT_AWS_REGION = "us-east-1"
#: A dead writer's lease is taken over after this (plus as long again: see checkpoint_lease.py).
DEFAULT_LEASE_TTL_S = 30
DEFAULT_LEASE_HEARTBEAT_S = 5


@dataclass(frozen=True)
class JobEnvironment:
    """The platform variables of a Spark job, as set (empty strings count as unset)."""

    spark_jars: str = ""
    s3_endpoint_url: str | None = None
    aws_region: str = DEFAULT_AWS_REGION
    #: JSON; may hold a Kafka password, so it is left out of the repr.
    bronze_kafka_options: str = field(default="", repr=False)
    lease_ttl_s: float = float(DEFAULT_LEASE_TTL_S)
    lease_heartbeat_s: float = float(DEFAULT_LEASE_HEARTBEAT_S)


def job_environment(environ: Mapping[str, str] | None = None) -> JobEnvironment:
    """The job's variables from `environ` (default: this process's environment)."""
    env = os.environ if environ is None else environ
    return JobEnvironment(
        spark_jars=env.get(SPARK_JARS_ENV, ""),
        s3_endpoint_url=env.get(S3_ENDPOINT_URL_ENV) or None,
        aws_region=env.get(AWS_REGION_ENV) or DEFAULT_AWS_REGION,
        bronze_kafka_options=env.get(BRONZE_KAFKA_OPTIONS_ENV, ""),
        lease_ttl_s=float(env.get(BRONZE_LEASE_TTL_S_ENV) or DEFAULT_LEASE_TTL_S),
        lease_heartbeat_s=float(env.get(BRONZE_LEASE_HEARTBEAT_S_ENV) or DEFAULT_LEASE_HEARTBEAT_S),
    )


def launched_by_spark_submit() -> bool:
    """Whether `spark-submit` started this driver (its JVM is already running with its settings)."""
    return SPARK_GATEWAY_PORT_ENV in os.environ


def adopt_environment(env: Mapping[str, str]) -> None:
    """Make `env` this process's whole environment (a worker forked for another process takes on
    that process's variables: `streaming/worker_forkserver.py`)."""
    os.environ.clear()
    os.environ.update(env)
