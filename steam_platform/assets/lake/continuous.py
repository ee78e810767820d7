"""Continuous bronze under Dagster: the long-running `spark-submit` job launched with Dagster Pipes.

In production a topic can be landed by a processing-time query that keeps running instead of the
`bronze_*` assets' availableNow runs. `bronze_continuous_job` starts that query as
`spark-submit ... streaming/bronze.py --continuous` through the `pipes_subprocess` client, so it
is launched, watched and terminated from Dagster: each landed micro-batch shows in the run's logs
(rows, quarantined rows, Kafka offsets), and when the job stops (`stop_after_s`, for bounded runs)
its totals are recorded as a materialization of the topic's existing `bronze_<topic>` asset.

Why that asset and not a new one: the continuous query writes the very same dataset with the same
checkpoint, so it is the same asset materialised another way; freshness and lineage stay on one
key. One or the other writes a topic at a time: the job itself holds the checkpoint's lease while
its query runs (`streaming/checkpoint_lease.py`), so a lake run landing the same topic fails
naming this run (and this job fails naming the lake run, if that one got there first). While this
job runs for a topic, `lake_refresh_sensor` stops landing that topic and only refreshes its
silver, marts and search.

A `spark-submit` outliving its run (the worker SIGKILLed, the code server restarted): the job gets
this process's pid (`--launcher-pid`) and stops by itself, query stopped and lease released, within
a second or so of the launcher's death; if it cannot (its driver hangs), its lease expires after
`BRONZE_LEASE_TTL_S` and the next writer takes the checkpoint over.
The job holds no `spark` pool slot, since it would hold it for as long as it runs.

Secrets never go on the command line (visible in `ps`): S3 keys and Kafka security options reach
the job through its environment.

Where it runs follows the `pipes_subprocess` client's `SPARK_MASTER`: `local[2]` inside the
submitted driver, or a standalone cluster (`spark://...`, the local stack's with
`stack up --spark-cluster`) in client mode. There the driver serves `--jars` to the executors, and
Spark copies the S3 keys from the driver's environment into the Hadoop configuration that travels
with each task, so executors write to the lake without the keys on any command line or in their
own environment.
"""

import json
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

import dagster as dg
from pydantic import Field

import streaming.bronze
from steam_platform.assets.lake.bronze import lease_timing, spark_kafka_options
from steam_platform.assets.lake.refresh_events import DEFAULT_CONTINUOUS_TOPIC
from steam_platform.core.run_limits import max_runtime_tags
from steam_platform.core.settings import SparkSettings
from steam_platform.core.sources import DATA_TOPICS, source_of_topic
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.s3 import S3Resource
from streaming.bronze_pipes import EXTRA_ASSET_KEY
from streaming.environment import (
    AWS_REGION_ENV,
    BRONZE_KAFKA_OPTIONS_ENV,
    BRONZE_LEASE_HEARTBEAT_S_ENV,
    BRONZE_LEASE_TTL_S_ENV,
    DEFAULT_DRIVER_MEMORY,
    DEFAULT_SPARK_MASTER,
    S3_ENDPOINT_URL_ENV,
)
from streaming.spark_session import driver_address_conf, expand_jars

BRONZE_SCRIPT = Path(streaming.bronze.__file__).resolve()


class BronzeContinuousConfig(dg.Config):
    """Which topic to land continuously, how often, and (optionally) for how long."""

    topic: str = Field(default=DEFAULT_CONTINUOUS_TOPIC, description="Kafka topic to land into bronze.")
    interval: str = Field(default="1 minute", description='Processing-time trigger, e.g. "30 seconds".')
    stop_after_s: float | None = Field(
        default=None,
        description="Bounded run: stop cleanly after this many seconds and report; None: until terminated.",
    )
    stop_when_idle_s: float | None = Field(
        default=None,
        description="Catch-up run: stop cleanly and report once no batch landed for this many seconds "
        "after one did (the topic is drained); None: run until `stop_after_s` or terminated.",
    )
    max_offsets_per_trigger: int | None = Field(default=None, description="Cap on records per batch.")
    asset_key: str | None = Field(
        default=None,
        description="Asset to report; default: the topic's `bronze_*` asset (required for other topics).",
    )


def bronze_asset_for(topic: str, asset_key: str | None = None) -> str:
    """The asset a continuous run of `topic` materialises (`asset_key` wins)."""
    if asset_key:
        return asset_key
    try:
        return source_of_topic(topic).bronze_asset
    except KeyError:
        known = ", ".join(sorted(DATA_TOPICS))
        raise dg.Failure(
            f"no bronze asset lands topic {topic!r} (known: {known}); set `asset_key` to report one"
        ) from None


def spark_submit_path() -> str:
    """`spark-submit` next to this Python (the venv's pyspark), else the one on PATH."""
    beside = Path(sys.executable).with_name("spark-submit")
    found = str(beside) if beside.is_file() else shutil.which("spark-submit")
    if not found:
        raise dg.Failure("spark-submit not found next to this Python nor on PATH (install pyspark)")
    return found


def submit_command(
    config: BronzeContinuousConfig,
    launch_env: Mapping[str, str],
    *,
    bootstrap: str,
    lake_root: str,
    writer: str = "continuous bronze",
) -> list[str]:
    """The `spark-submit` command line: Spark settings, connector jars, the job's arguments; no secret.

    `launch_env` is the `pipes_subprocess` client's environment: the Spark settings under their
    variable names (`build_pipes_client`); what it leaves unset takes the Spark defaults. `writer`
    names the run to a writer the checkpoint's lease refuses; this process's pid is the job's
    launcher, whose death stops it.
    """
    name = SparkSettings.env_name
    jars = expand_jars(launch_env.get(name("jars")))
    if not jars:
        raise dg.Failure(f"no Spark connector jars: set {name('jars')} (`steam-platform stack install`)")
    driver_conf = driver_address_conf(
        launch_env.get(name("driver_host")), launch_env.get(name("driver_bind_address"))
    )
    driver_conf_args = [arg for k, v in driver_conf.items() for arg in ("--conf", f"{k}={v}")]
    command = [
        spark_submit_path(),
        "--master",
        launch_env.get(name("master")) or DEFAULT_SPARK_MASTER,
        "--driver-memory",
        launch_env.get(name("driver_memory")) or DEFAULT_DRIVER_MEMORY,
        "--jars",
        ",".join(jars),
        *driver_conf_args,
        str(BRONZE_SCRIPT),
        "--topic",
        config.topic,
        "--bootstrap",
        bootstrap,
        "--lake-root",
        lake_root,
        "--continuous",
        "--interval",
        config.interval,
        "--writer",
        writer,
        "--launcher-pid",
        str(os.getpid()),
    ]
    if config.stop_after_s:
        command += ["--timeout-s", str(config.stop_after_s)]
    if config.stop_when_idle_s:
        command += ["--idle-stop-s", str(config.stop_when_idle_s)]
    if config.max_offsets_per_trigger:
        command += ["--max-offsets-per-trigger", str(config.max_offsets_per_trigger)]
    return command


def submit_env(s3: S3Resource, kafka: KafkaResource) -> dict[str, str]:
    """The job's connection settings, secrets and lease timing, passed through its environment only."""
    timing = lease_timing()
    env = {
        BRONZE_LEASE_TTL_S_ENV: f"{timing.ttl_s:g}",
        BRONZE_LEASE_HEARTBEAT_S_ENV: f"{timing.heartbeat_s:g}",
        S3_ENDPOINT_URL_ENV: s3.endpoint_url or "",
        AWS_REGION_ENV: s3.region,
        BRONZE_KAFKA_OPTIONS_ENV: json.dumps(spark_kafka_options(kafka)),
    }
    credentials = s3.spark_credentials()
    if credentials:
        env["AWS_ACCESS_KEY_ID"] = credentials["fs.s3a.access.key"]
        env["AWS_SECRET_ACCESS_KEY"] = credentials["fs.s3a.secret.key"]
    return env


@dg.op(
    description="Runs the continuous (processing-time) bronze query for one topic via Dagster Pipes.",
)
def bronze_continuous(
    context: dg.OpExecutionContext,
    config: BronzeContinuousConfig,
    pipes_subprocess: dg.PipesSubprocessClient,
    kafka: KafkaResource,
    s3: S3Resource,
) -> None:
    """Launch the job, stream its batch logs, and record its reported materialization at the end."""
    asset_key = bronze_asset_for(config.topic, config.asset_key)
    # The client's environment (built from the settings by the wiring) says how to launch; the
    # child process itself gets this process's environment plus the client's and the run's.
    command = submit_command(
        config,
        pipes_subprocess.env or {},
        bootstrap=kafka.bootstrap_servers,
        lake_root=s3.lake_root(),
        writer=f"continuous run {context.run.run_id} ({asset_key})",
    )
    context.log.info(
        f"continuous bronze for {config.topic} every {config.interval} -> {asset_key}"
        + (f", stopping after {config.stop_after_s}s" if config.stop_after_s else "")
        + (f", or {config.stop_when_idle_s}s after the topic is drained" if config.stop_when_idle_s else "")
    )
    invocation = pipes_subprocess.run(
        context=context,
        command=command,
        env=submit_env(s3, kafka),
        extras={EXTRA_ASSET_KEY: asset_key, "topic": config.topic},
    )
    for result in invocation.get_results(implicit_materializations=False):
        if isinstance(result, dg.MaterializeResult) and result.asset_key is not None:
            context.log_event(dg.AssetMaterialization(asset_key=result.asset_key, metadata=result.metadata))


@dg.job(
    description=(
        "Continuous bronze: a long-running processing-time Spark query for one topic, launched with "
        "Dagster Pipes; reports batches as logs and the bronze asset's materialization when it stops."
    ),
    tags=max_runtime_tags(0),  # runs until stopped or idle; a dead worker is failed by dead_run_reaper
)
def bronze_continuous_job() -> None:
    """One op: the continuous bronze query of the configured topic."""
    bronze_continuous()
