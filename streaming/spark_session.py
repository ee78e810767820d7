"""One way to build the SparkSession every lake job runs in: locally capped, S3A-ready, UTC.

Pure PySpark (no Dagster, no steam_platform): the same settings serve the Dagster `pyspark`
resource, tests, and `spark-submit` from a shell that sourced `.stack/env`:

    spark-submit --jars "${STEAM_SPARK_JARS//:/,}" streaming/<job>.py

(`--jars` because spark-submit starts the driver JVM before the job runs: jars the session adds
later reach the tasks but not the driver's Hadoop filesystem loader, so `s3a://` would fail.)

- Spark runs `local[2]` with a capped driver heap, few shuffle partitions and no UI, so a job fits
  on a small machine next to the local stack. With a cluster master (`spark://...`, the stack's
  `SPARK_MASTER`) the same session is the driver of a client-mode application: it listens on
  127.0.0.1 (executors connect back to it), its executors get a capped heap
  (`spark.executor.memory`) and the same UTC JVM zone as the driver.
- Partitioned writes overwrite only the partitions they write (`partitionOverwriteMode=dynamic`):
  re-running one day replaces that day and nothing else.
- Session time zone UTC, like every partition key of the platform.
- Connector jars (Kafka source, S3A) are passed by path (`spark.jars`); `STEAM_SPARK_JARS`
  (colon-separated, written by `steam-platform stack up`) says where they are. The driver's file
  server hands the same jars to every executor of a cluster (Spark's supported way; nothing has to
  be installed on the workers).
- S3 secrets never go into the Spark conf: the conf reaches the driver JVM on its command line
  (world-readable in `ps`) and Spark's UI (environment tab). `hadoop_secrets` are set into the
  running session's Hadoop configuration instead. Spark serialises that configuration into the
  tasks that read or write files (Parquet reads and writes, `FileFormatWriter`), so executors on a
  cluster get the keys with their tasks and from nowhere else (not from their command line or
  environment). A `spark-submit` job gets the same without code: when its context starts, Spark
  copies `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` from the driver's
  environment into `fs.s3a.access.key`/`secret.key`/`session.token` of that Hadoop configuration
  (Spark's cloud-integration guide), so the variables need to reach only the driver. When Spark
  lists the Hadoop properties (the UI's environment tab after an environment update), its default
  `spark.redaction.regex` (`secret|password|token|access.key`) masks both keys.
- Python: PySpark started from a plain Python process (a Dagster run) picks the executors' Python
  from `PYSPARK_PYTHON` only, which `spark.pyspark.python` (when set) fills before the session
  starts, so executors of a cluster run the driver's interpreter and import the same packages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from pyspark.sql import SparkSession

from streaming.connect_session import is_connect
from streaming.environment import (
    DEFAULT_DRIVER_MEMORY,
    DEFAULT_SPARK_MASTER,
    SPARK_JARS_ENV,
    job_environment,
)

#: The executors' (and a submitted driver's) Python interpreter.
PYSPARK_PYTHON_CONF = "spark.pyspark.python"
#: S3A credential providers for an S3-compatible endpoint: keys from the Hadoop configuration
#: (set at runtime by `hadoop_secrets`), else from the environment. No EC2 metadata probe, which
#: would only time out off AWS.
ENDPOINT_CREDENTIAL_PROVIDERS = (
    "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider,"
    "software.amazon.awssdk.auth.credentials.EnvironmentVariableCredentialsProvider"
)


class MissingConnectorJarsError(RuntimeError):
    """The Kafka/S3A connector jars are not where the environment says (run `stack install`)."""


def expand_jars(value: str | None) -> list[str]:
    """Jar paths from a colon-separated list; a folder stands for every `*.jar` in it (sorted)."""
    jars: list[str] = []
    for entry in (value or "").split(":"):
        if entry and Path(entry).is_dir():
            jars += sorted(str(p) for p in Path(entry).glob("*.jar"))
        elif entry:
            jars.append(entry)
    return jars


def connector_jars_from_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """The connector jars `$STEAM_SPARK_JARS` lists (paths or folders, colon-separated); all must exist.

    `environ` defaults to this process's environment (see `streaming/environment.py`).
    """
    jars = expand_jars(job_environment(environ).spark_jars)
    if not jars:
        raise MissingConnectorJarsError(
            f"${SPARK_JARS_ENV} is empty: run `steam-platform stack install` and source .stack/env "
            "(or `eval $(steam-platform stack env)`)"
        )
    missing = [p for p in jars if not Path(p).is_file()]
    if missing:
        raise MissingConnectorJarsError(
            f"${SPARK_JARS_ENV} lists {len(missing)} missing jar(s), e.g. {missing[0]}: "
            "run `steam-platform stack install`"
        )
    return jars


def s3a_conf(
    *,
    endpoint_url: str | None,
    region: str,
    path_style: bool,
) -> dict[str, str]:
    """`spark.hadoop.fs.s3a.*` settings for AWS (`endpoint_url=None`) or an S3-compatible server.

    Checksums: S3A (Hadoop 3.5) neither generates nor validates the AWS SDK's flexible checksums
    unless asked; stated explicitly because S3-compatible servers often reject them.
    """
    conf = {
        "fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "fs.s3a.endpoint.region": region,
        "fs.s3a.path.style.access": str(path_style).lower(),
        "fs.s3a.checksum.generation": "false",
        "fs.s3a.checksum.validation": "false",
        "fs.s3a.create.checksum.algorithm": "NONE",
        # The classic stream reads with the synchronous client; the analytics stream is newer.
        "fs.s3a.input.stream.type": "classic",
        "fs.s3a.connection.maximum": "64",
        "fs.s3a.threads.max": "16",
    }
    if endpoint_url:
        conf["fs.s3a.endpoint"] = endpoint_url
        conf["fs.s3a.connection.ssl.enabled"] = str(endpoint_url.startswith("https://")).lower()
        conf["fs.s3a.aws.credentials.provider"] = ENDPOINT_CREDENTIAL_PROVIDERS
        conf["fs.s3a.attempts.maximum"] = "3"
        conf["fs.s3a.retry.limit"] = "3"
    return {f"spark.hadoop.{k}": v for k, v in conf.items()}


def s3a_conf_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """S3A settings from the stack's variables (`S3_ENDPOINT_URL`, `AWS_REGION`), for `spark-submit`."""
    env = job_environment(environ)
    return s3a_conf(
        endpoint_url=env.s3_endpoint_url,
        region=env.aws_region,
        path_style=env.s3_endpoint_url is not None,
    )


def local_session_conf(
    app_name: str,
    *,
    master: str = DEFAULT_SPARK_MASTER,
    driver_memory: str = DEFAULT_DRIVER_MEMORY,
    jars: Sequence[str] = (),
    conf: Mapping[str, str] | None = None,
    executor_memory: str = "1g",
) -> dict[str, str]:
    """The full Spark conf of a platform session; `conf` entries override the defaults.

    Executor settings only matter with a cluster master: `executor_memory` must fit what a worker
    offers (the local stack's workers offer 1g each).
    """
    settings = {
        "spark.app.name": app_name,
        "spark.master": master,
        "spark.driver.memory": driver_memory,
        "spark.driver.maxResultSize": "256m",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.log.level": "WARN",
        "spark.sql.shuffle.partitions": "4",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.executor.memory": executor_memory,
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    if jars:
        settings["spark.jars"] = ",".join(jars)
    settings.update(conf or {})
    return settings


def session_from_conf(
    conf: Mapping[str, str], *, hadoop_secrets: Mapping[str, str] | None = None
) -> SparkSession:
    """Get or create the session for `conf`, then put `hadoop_secrets` into its Hadoop configuration.

    `hadoop_secrets` are plain Hadoop keys (e.g. `fs.s3a.secret.key`, no `spark.hadoop.` prefix).
    They are set before any filesystem of the session is created, so S3A sees them, and travel to
    executors inside the tasks that use them.

    `spark.pyspark.python` in `conf` becomes `PYSPARK_PYTHON` before the session starts: PySpark in a
    plain Python process reads only the variable (the setting is honoured by `spark-submit` alone).
    """
    python = conf.get(PYSPARK_PYTHON_CONF)
    if python:
        os.environ["PYSPARK_PYTHON"] = python
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    # `spark.hadoop.*` settings reach the Hadoop configuration only when the context starts: a
    # session that already runs in this process (tests share one) gets them here, before any
    # filesystem of theirs is created. Idempotent for a session just started with them.
    hadoop = {k.removeprefix("spark.hadoop."): v for k, v in conf.items() if k.startswith("spark.hadoop.")}
    hadoop.update(hadoop_secrets or {})
    # Only a classic session has a Hadoop configuration here; a Connect session (SPARK_REMOTE in
    # the environment) has the server's, which its clients cannot set.
    if hadoop and not is_connect(spark):
        hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
        for key, value in hadoop.items():
            hadoop_conf.set(key, value)
    return spark


def build_spark_session(
    app_name: str,
    *,
    master: str = DEFAULT_SPARK_MASTER,
    driver_memory: str = DEFAULT_DRIVER_MEMORY,
    jars: Sequence[str] = (),
    conf: Mapping[str, str] | None = None,
    hadoop_secrets: Mapping[str, str] | None = None,
) -> SparkSession:
    """A local Spark session with the platform's settings, the given connector jars and `conf`.

    In a job run by `spark-submit --jars ...`: `build_spark_session(name,
    jars=connector_jars_from_env(), conf=s3a_conf_from_env())` (S3A reads the keys from
    `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`). Only one session per process: later calls return
    the first session (Spark cannot change jars or memory of a running driver).
    """
    settings = local_session_conf(app_name, master=master, driver_memory=driver_memory, jars=jars, conf=conf)
    return session_from_conf(settings, hadoop_secrets=hadoop_secrets)


def driver_address_conf(driver_host: str | None, bind_address: str | None = None) -> dict[str, str]:
    """Spark settings that make the driver reachable from executors on other hosts.

    Unset, sessions keep the loopback defaults (`local[2]` or the local stack's cluster). Set (a
    remote standalone, YARN or Kubernetes cluster), the driver advertises `driver_host` and binds
    to `bind_address` (`SPARK_DRIVER_BIND_ADDRESS`, e.g. `0.0.0.0` in a container), else to the host.
    """
    if not driver_host:
        return {}
    return {"spark.driver.host": driver_host, "spark.driver.bindAddress": bind_address or driver_host}
