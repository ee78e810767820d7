"""Bronze job: one Kafka topic -> Parquet under `<lake_root>/bronze/<topic>/dt=YYYY-MM-DD/`.

Structured Streaming reads the topic from the checkpointed offsets, parses each envelope with an
explicit schema, adds Kafka provenance and landing time, and writes each micro-batch into
`dt=<observed day>/batch_id=<n>/`. A batch that is re-run after a crash (Spark replays it from the
checkpoint's offset log with the same offsets) is written with dynamic partition overwrite and
replaces exactly the files of its own earlier attempt, so every record lands once; a batch Spark
had not planned before the query started cannot have an earlier attempt and is appended (no
staging folder to copy from on S3). Malformed envelopes go to `<lake_root>/quarantine/<topic>/`
with a reason and never stop the stream. Each batch is read from Kafka and parsed once: its
tallies (offsets per partition, rows, days) are counted while its rows are written
(`streaming/batch_tally.py`).

In-process: `run_bronze(spark, BronzeJob(...))` returns `BronzeStats` (`streaming/bronze_stats.py`).
On a Spark Connect session the same call lands each batch in the server's Python worker, which
checks the lease in the store and reports back through the lease folder (`streaming/bronze_connect.py`).
As a job:

    spark-submit --jars "${STEAM_SPARK_JARS//:/,}" streaming/bronze.py --topic steam.news \
        --bootstrap 127.0.0.1:19093 --lake-root s3a://steam-lake/lake \
        [--checkpoint ...] [--continuous --interval "1 minute"] [--max-offsets-per-trigger N] \
        [--timeout-s S] [--writer "who launched it"] [--launcher-pid PID]

(`--jars` is needed: a submitted driver's classpath is fixed at launch, so the Kafka source must
be on it then.) S3 credentials come from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`; Kafka
security options (SASL JAAS line included) from `BRONZE_KAFKA_OPTIONS`, a JSON object, so no secret
is on the command line. `--timeout-s` bounds a continuous run: it stops cleanly and reports. Launched
by Dagster Pipes, the job streams its progress to the Dagster run (`streaming/bronze_pipes.py`).

One writer per checkpoint: `run_bronze` takes the checkpoint's lease before its query starts and
keeps it while the query runs (`streaming/checkpoint_lease.py`), so the lake runs' landing and the
continuous job, in-process or submitted, can never write one checkpoint at once. A writer that
finds the lease held fails at once with `CheckpointLeaseHeld` naming the holder (nothing written;
the lake run retries later); one that loses it (stalled past its ttl, or taken over) writes no
further batch and fails with `CheckpointLeaseLost`. `--launcher-pid` makes a submitted job stop
(cleanly, lease released) once the process that launched it is gone (`streaming/launcher_watch.py`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

if __package__ in (None, ""):  # run as a script by spark-submit: make `streaming` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from streaming.bronze_batch import land_held_batch, query_commit_protocol
from streaming.bronze_connect import BatchReports, ConnectBatchLander
from streaming.bronze_pipes import pipes_progress
from streaming.bronze_stats import BatchStats, BronzeStats, stats_as_dict
from streaming.checkpoint_lease import CheckpointLease, LeaseTiming, acquire, writer_identity
from streaming.connect_session import is_connect
from streaming.envelope_parse import jvm_parser_registered
from streaming.environment import (
    BRONZE_KAFKA_OPTIONS_ENV,
    DEFAULT_LEASE_HEARTBEAT_S,
    DEFAULT_LEASE_TTL_S,
    job_environment,
    launched_by_spark_submit,
)
from streaming.hadoop_fs import FileStats, parquet_stats
from streaming.lake_paths import bronze_path, checkpoint_path, quarantine_path
from streaming.landed_offsets import Continuity, LandedOffsetsStore
from streaming.launcher_watch import launcher_gone
from streaming.lease_stores import lease_store_for
from streaming.planned_offsets import last_planned_hint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BronzeJob:
    """What to land and where: topic, brokers, lake root, checkpoint, trigger."""

    topic: str
    bootstrap_servers: str
    lake_root: str
    checkpoint: str | None = None
    #: None: `availableNow` (land everything new, then stop); else a processing-time interval.
    continuous_interval: str | None = None
    max_offsets_per_trigger: int | None = None
    fail_on_data_loss: bool = True
    timeout_s: float | None = 1800.0
    #: Continuous mode: stop once this many seconds passed after the last landed batch with no new
    #: record (a catch-up run that ends when the topic is drained). None: run until `timeout_s`.
    idle_stop_s: float | None = None
    #: Extra `kafka.*` consumer options (security protocol, SASL) for production clusters.
    kafka_options: Mapping[str, str] = field(default_factory=dict)
    #: Who writes, as the checkpoint's lease names it to a refused writer (e.g. the Dagster run).
    writer: str = "bronze job"
    lease: LeaseTiming = field(
        default_factory=lambda: LeaseTiming(float(DEFAULT_LEASE_TTL_S), float(DEFAULT_LEASE_HEARTBEAT_S))
    )
    #: How long to wait for a held lease to become free before failing (0: fail at once).
    lease_wait_s: float = 0.0
    #: Stop (cleanly, between batches) once this process is gone: the run that launched the job.
    launcher_pid: int | None = None

    @property
    def checkpoint_location(self) -> str:
        return self.checkpoint or checkpoint_path(self.lake_root, self.topic)


#: How long the broker may hold a fetch that finds no new record (Kafka's default: 500 ms). Spark's
#: Kafka reader ends a partition's range by asking the broker for the partition's offsets, and that
#: request waits on the connection behind the consumer's read-ahead fetch, which the broker holds
#: this long at the end of the data: 0.5-1 s per partition read, ~3 s of a 2,000-event landing's
#: 4.5 s (six partitions in one task; benchmarks/RESULTS.md). A reader only lives while a batch is
#: read: short waits cost nothing.
FETCH_MAX_WAIT_MS = 20


def _kafka_stream(spark: SparkSession, job: BronzeJob) -> DataFrame:
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", job.bootstrap_servers)
        .option("subscribe", job.topic)
        .option("startingOffsets", "earliest")
        .option("failOnDataLoss", str(job.fail_on_data_loss).lower())
        .option("kafka.isolation.level", "read_committed")
        .option("kafka.fetch.max.wait.ms", str(FETCH_MAX_WAIT_MS))
    )
    if job.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(job.max_offsets_per_trigger))
    for key, value in job.kafka_options.items():
        reader = reader.option(key if key.startswith("kafka.") else f"kafka.{key}", value)
    return reader.load()


def _summarise(
    job: BronzeJob,
    batches: dict[int, BatchStats],
    spark: SparkSession,
    started: float,
    continuity_problems: list[str],
    continuity_known: bool,
    envelope_parser: str,
) -> BronzeStats:
    offsets: dict[int, dict[str, int]] = {}
    for stats in batches.values():
        for part, (lo, hi, n) in stats.offsets.items():
            seen = offsets.setdefault(part, {"from": lo, "to": hi, "records": 0})
            seen["from"] = min(seen["from"], lo)
            seen["to"] = max(seen["to"], hi)
            seen["records"] += n
    ids = sorted(batches)
    days = sorted(set().union(*(b.days for b in batches.values())))
    landed = held = FileStats(0, 0)
    glob = "{" + ",".join(str(i) for i in ids) + "}"
    if days:  # only the day folders the run wrote are listed, not every day bronze holds
        in_days = "{" + ",".join(days) + "}"
        landed = parquet_stats(spark, f"{bronze_path(job.lake_root, job.topic)}/dt={in_days}/batch_id={glob}")
    if any(b.quarantined for b in batches.values()):
        held = parquet_stats(spark, f"{quarantine_path(job.lake_root, job.topic)}/batch_id={glob}")
    files = FileStats(landed.files + held.files, landed.bytes + held.bytes)
    return BronzeStats(
        topic=job.topic,
        rows_landed=sum(b.rows for b in batches.values()),
        rows_quarantined=sum(b.quarantined for b in batches.values()),
        batches=ids,
        offsets=dict(sorted(offsets.items())),
        files=files,
        duration_s=round(time.monotonic() - started, 3),
        days=days,
        continuity_problems=list(continuity_problems),
        continuity_known=continuity_known,
        envelope_parser=envelope_parser,
    )


class BronzeRunError(RuntimeError):
    """The streaming query failed or did not finish in time (nothing is lost: re-run resumes)."""


class LauncherGone(BronzeRunError):
    """The process that launched the job is gone: the query was stopped and its lease released."""


def run_bronze(
    spark: SparkSession,
    job: BronzeJob,
    on_batch_landed: Callable[[int, BatchStats], None] | None = None,
) -> BronzeStats:
    """Run the query: availableNow (default) returns when everything new has landed.

    In continuous mode it runs until `timeout_s` (None: until stopped), or until `idle_stop_s` passed
    after the last landed batch without a new one, and then stops cleanly. `on_batch_landed(batch_id,
    stats)` is called after each micro-batch has landed (progress). The checkpoint's lease is held
    from before the query starts until after it stopped (`CheckpointLeaseHeld` when another writer
    has it, `CheckpointLeaseLost` when it was lost while running, `LauncherGone` when the launching
    process died).
    """
    checkpoint = job.checkpoint_location
    lease = acquire(
        lease_store_for(spark, checkpoint),
        checkpoint,
        writer_identity(job.writer),
        job.lease,
        wait_s=job.lease_wait_s,
    )
    try:
        if is_connect(spark):
            return _run_on_connect(spark, job, lease, on_batch_landed)
        landed = LandedOffsetsStore(lease_store_for(spark, checkpoint))
        return _run_query(spark, job, lease, Continuity(landed), on_batch_landed)
    finally:
        lease.release()


def _run_query(
    spark: SparkSession,
    job: BronzeJob,
    lease: CheckpointLease,
    continuity: Continuity,
    on_batch_landed: Callable[[int, BatchStats], None] | None,
) -> BronzeStats:
    """The query with `foreachBatch` in this process (an in-process driver)."""
    started = time.monotonic()
    batches: dict[int, BatchStats] = {}
    last_landed: list[float] = []  # when the latest batch finished landing (a micro-batch runs only on data)
    last_planned = last_planned_hint(spark, job.checkpoint_location)  # batches above it never ran before
    jvm_parser = jvm_parser_registered(spark)  # else from_json, with a warning

    def on_batch(batch: DataFrame, batch_id: int) -> None:
        batches[batch_id] = land_held_batch(
            batch,
            batch_id,
            lake_root=job.lake_root,
            topic=job.topic,
            checkpoint=job.checkpoint_location,
            last_planned=last_planned,
            still_held=lease.check,
            continuity=continuity,
            jvm_parser=jvm_parser,
            direct_appends=jvm_parser,  # the parser's jar holds the commit protocol too
        )
        last_landed[:] = [time.monotonic()]
        if on_batch_landed is not None:
            on_batch_landed(batch_id, batches[batch_id])

    _run_to_end(spark, job, lease, on_batch, started, last_landed)
    parser = "jvm" if jvm_parser else "from_json"
    return _summarise(job, batches, spark, started, continuity.problems, continuity.known, parser)


def _run_on_connect(
    spark: SparkSession,
    job: BronzeJob,
    lease: CheckpointLease,
    on_batch_landed: Callable[[int, BatchStats], None] | None,
) -> BronzeStats:
    """The query on a Spark Connect server: batches land in its Python worker and report back
    through the lease folder (`streaming/bronze_connect.py`)."""
    started = time.monotonic()
    checkpoint = job.checkpoint_location
    reports = BatchReports(lease_store_for(spark, checkpoint), lease.record.epoch)
    # The server's sessions have bronze's parser (its jar and extensions: the platform's server
    # entry point) or not: then from_json, with a warning.
    jvm_parser = jvm_parser_registered(spark)
    lander = ConnectBatchLander(
        job.lake_root, job.topic, checkpoint, lease.record, last_planned_hint(spark, checkpoint), jvm_parser
    )
    batches: dict[int, BatchStats] = {}
    last_landed: list[float] = []

    def collect() -> None:
        for report in reports.new():
            batches[report.batch_id] = report.stats
            last_landed[:] = [time.monotonic()]
            if on_batch_landed is not None:
                on_batch_landed(report.batch_id, report.stats)

    # The jar's appends in place need the query-wide protocol here: a write in the server's worker
    # cannot choose its own (`streaming/bronze_batch.py`).
    protocol = query_commit_protocol(spark) if jvm_parser else nullcontext()
    try:
        with protocol:
            _run_to_end(spark, job, lease, lander, started, last_landed, on_tick=collect)
        collect()
    finally:
        last = reports.last()
        reports.remove_all()
    problems, known = (last.continuity_problems, last.continuity_known) if last else ([], True)
    return _summarise(job, batches, spark, started, problems, known, "jvm" if jvm_parser else "from_json")


def _run_to_end(
    spark: SparkSession,
    job: BronzeJob,
    lease: CheckpointLease,
    on_batch: Callable[[DataFrame, int], None],
    started: float,
    last_landed: list[float],
    on_tick: Callable[[], None] = lambda: None,
) -> None:
    """Start the query with `on_batch` and wait until it ends (availableNow), stops by rule, or
    times out; raise what stopped it early (lost lease, launcher gone, query error, time-out)."""

    def stop_reason() -> str | None:
        if lease.lost_reason is not None:
            return lease.lost_reason
        if job.launcher_pid is not None and launcher_gone(job.launcher_pid):
            return f"the launching process {job.launcher_pid} is gone"
        return None

    writer = (
        _kafka_stream(spark, job)
        .writeStream.queryName(f"bronze_{job.topic}")
        .option("checkpointLocation", job.checkpoint_location)
        .foreachBatch(on_batch)
    )
    if job.continuous_interval:
        writer = writer.trigger(processingTime=job.continuous_interval)
    else:
        writer = writer.trigger(availableNow=True)
    query = writer.start()
    try:
        finished = _await_idle_or_timeout(query, job, started, last_landed, stop_reason, on_tick)
    finally:
        if query.isActive:
            query.stop()
    lease.check()
    if job.launcher_pid is not None and launcher_gone(job.launcher_pid):
        raise LauncherGone(
            f"bronze query for {job.topic} stopped: the launching process {job.launcher_pid} is gone"
        )
    error = query.exception()
    if error is not None:
        raise BronzeRunError(f"bronze query for {job.topic} failed: {error}")
    if finished is False and not job.continuous_interval:
        raise BronzeRunError(f"bronze query for {job.topic} did not finish within {job.timeout_s}s")


def _await_idle_or_timeout(
    query: StreamingQuery,
    job: BronzeJob,
    started: float,
    last_landed: list[float],
    stop_reason: Callable[[], str | None] = lambda: None,
    on_tick: Callable[[], None] = lambda: None,
) -> bool:
    """Wait until the query ends (True), `timeout_s` passes, `stop_reason()` names one, or (continuous
    with `idle_stop_s`) the topic stays idle `idle_stop_s` after a landed batch (False: the caller
    stops the query; between batches when idle)."""
    while not query.awaitTermination(1):
        on_tick()
        if stop_reason() is not None:
            return False
        now = time.monotonic()
        if job.timeout_s and now - started >= job.timeout_s:
            return False
        if not (job.continuous_interval and job.idle_stop_s):
            continue
        idle = bool(last_landed) and now - last_landed[0] >= job.idle_stop_s
        if idle and not query.status.get("isTriggerActive"):
            return False
    return True


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line arguments of the `spark-submit` entry point."""
    parser = argparse.ArgumentParser(description="Land one Kafka topic into the bronze Parquet lake.")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers (host:port,...)")
    parser.add_argument("--lake-root", required=True, help="e.g. s3a://steam-lake/lake")
    parser.add_argument("--checkpoint", help="default: <lake-root>/_checkpoints/bronze_<topic>")
    parser.add_argument(
        "--continuous", action="store_true", help="processing-time trigger, runs until stopped"
    )
    parser.add_argument(
        "--interval", default="1 minute", help='trigger interval with --continuous, e.g. "1 minute"'
    )
    parser.add_argument("--max-offsets-per-trigger", type=int, default=None)
    parser.add_argument("--timeout-s", type=float, default=None, help="stop after this long (default: none)")
    parser.add_argument(
        "--idle-stop-s",
        type=float,
        default=None,
        help="with --continuous: stop once no batch landed for this long after one did (default: never)",
    )
    parser.add_argument("--writer", default="bronze job", help="who runs it, named to a refused writer")
    parser.add_argument(
        "--launcher-pid", type=int, default=None, help="stop cleanly once this process (the launcher) is gone"
    )
    return parser.parse_args(argv)


def submitted_settings() -> dict[str, str]:
    """`spark-submit`'s own master, driver memory and driver address, which win over the local defaults.

    Under spark-submit the driver JVM is already running (PYSPARK_GATEWAY_PORT is set) with the
    settings it was given (`--master`, `--driver-memory`); a plain `python bronze.py` has none.
    """
    if not launched_by_spark_submit():
        return {}
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()
    conf = SparkConf()
    keys = ("spark.master", "spark.driver.memory", "spark.driver.host", "spark.driver.bindAddress")
    return {k: str(conf.get(k)) for k in keys if conf.contains(k)}


def kafka_options_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`kafka.*` source options from `$BRONZE_KAFKA_OPTIONS` (a JSON object; unset: none)."""
    raw = job_environment(environ).bronze_kafka_options
    if not raw:
        return {}
    options = json.loads(raw)
    if not isinstance(options, dict):
        raise ValueError(f"${BRONZE_KAFKA_OPTIONS_ENV} must be a JSON object of Kafka options")
    return {str(k): str(v) for k, v in options.items()}


def main(argv: Sequence[str] | None = None) -> int:
    """`spark-submit streaming/bronze.py ...`: build the session from the environment and run."""
    from streaming.spark_session import build_spark_session, connector_jars_from_env, s3a_conf_from_env

    args = parse_args(argv)
    environment = job_environment()
    job = BronzeJob(
        topic=args.topic,
        bootstrap_servers=args.bootstrap,
        lake_root=args.lake_root,
        checkpoint=args.checkpoint,
        continuous_interval=args.interval if args.continuous else None,
        max_offsets_per_trigger=args.max_offsets_per_trigger,
        timeout_s=args.timeout_s,
        idle_stop_s=args.idle_stop_s,
        kafka_options=kafka_options_from_env(),
        writer=args.writer,
        lease=LeaseTiming(environment.lease_ttl_s, environment.lease_heartbeat_s),
        launcher_pid=args.launcher_pid,
    )
    with pipes_progress() as progress:
        spark = build_spark_session(
            f"bronze_{args.topic}",
            jars=connector_jars_from_env(),
            conf={**s3a_conf_from_env(), **submitted_settings()},
        )
        try:
            report = partial(progress.batch_landed, job.topic) if progress else None
            stats = run_bronze(spark, job, on_batch_landed=report)
        except LauncherGone as gone:  # nobody left to report to: say why on stderr and stop
            print(str(gone), file=sys.stderr, flush=True)
            return 3
        finally:
            spark.stop()
        if progress:
            path = bronze_path(job.lake_root, job.topic)
            progress.finished(stats, path=path, interval=job.continuous_interval)
    print(json.dumps(stats_as_dict(stats)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
