"""Bronze throughput: rows/s landed from Kafka into the Parquet lake on S3, and Spark's peak memory.

Starts its own local stack (one Kafka broker and the S3 server, temporary state), produces
`--events` small player-count envelopes to a fresh 6-partition topic, then measures in the same run:

- baseline: a plain Python lander (one confluent-kafka consumer, `json.loads` per record, pyarrow
  Parquet files written to the same bucket) - what the job would be without Spark;
- bare Spark: a Structured Streaming query Kafka -> Parquet on the same bucket, `availableNow`,
  Spark's own file sink (its manifest log makes it exactly-once), writing only the Kafka columns
  (value and key as text, partition, offset, timestamp), not partitioned: bronze's `dt` needs the
  envelope parsed, and a baseline that parses is no longer Spark's bare rate. This is the rate
  bronze is held to (issue #17: at least 0.8x);
- bronze: `streaming.bronze.run_bronze` with `availableNow` (parse with the explicit schema,
  quarantine split, Parquet per dt/batch on S3A, tallies, continuity record, checkpoint and lease
  on S3), into its own lake root, optionally split into batches of `--max-offsets-per-trigger`
  (the bare query gets the same).

Both Spark queries run in one session, after both ran once on a small warm-up topic (100,000
events) into throwaway folders: the first query of a JVM pays for class loading and JIT compiling,
which would otherwise count against whichever is measured first. Each query then lands the topic
`--repeat` times (default 3), each into a lake root of its own, alternating which goes first (bare
Spark in the first run; `--bronze-first` swaps): the one that runs first still pays more, so the
ratio is taken between the medians, and every run's time is printed. Prints rows/s for each, the
ratios bronze / bare Spark and each / Python, and the Spark driver JVM's peak RSS (VmHWM).

`--compare-cluster` measures where Spark runs instead: the stack also starts its Spark standalone
cluster (master + two workers, 1 core and 1 GB each, as `stack up --spark-cluster`), and the same
bronze job lands the same topic twice in one run, into separate lake roots: first `local[2]` in
this process (the baseline), then as the driver of a client-mode application whose executors run
on the two workers. Prints rows/s of both, the ratio cluster / local[2], the driver's and the
executors' peak RSS.

`--connect` runs both Spark queries attached to the stack's Spark Connect server (the local
stack's default, `python -m steam_platform.spark_connect_server`) instead of a driver in this
process: bare Spark and bronze (its `foreachBatch` in the server's Python worker, the server's
bronze parser and the query-wide commit protocol) on the same server, CPU and peak RSS of the
server's JVM.

`--tuned-bare` gives the bare query the one Kafka consumer setting bronze's reader has
(`fetch.max.wait.ms`, `streaming/bronze.py` says why): Spark's rate with that setting as well as with
its defaults, since the setting speeds up any Kafka reader.

    .venv/bin/python benchmarks/bronze_throughput.py [--events 1000000] [--max-offsets-per-trigger N]
        [--bronze-first] [--repeat 3] [--tuned-bare]
    .venv/bin/python benchmarks/bronze_throughput.py --compare-cluster [--events 1000000]
    .venv/bin/python benchmarks/bronze_throughput.py --connect [--events 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import dagster as dg
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
from confluent_kafka import Consumer
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from steam_devstack.process import peak_rss_mib, process_tree
from steam_devstack.services.registry import SPARK_CLUSTER, SPARK_CONNECT
from steam_devstack.services.spark import connector_jars
from steam_devstack.services.spark_cluster import SparkClusterService
from steam_devstack.services.spark_connect import SparkConnectService
from steam_devstack.stack import LocalStack
from steam_platform.resources.kafka import KafkaResource, OutgoingMessage, TopicSpec
from steam_platform.resources.s3 import S3Resource
from steam_platform.resources.spark import build_pyspark_resource
from streaming.bronze import FETCH_MAX_WAIT_MS, BronzeJob, BronzeStats, run_bronze
from streaming.environment import DEFAULT_SPARK_MASTER

SOURCE = "ISteamUserStats/GetNumberOfCurrentPlayers/v1"


def messages(topic: str, n: int) -> list[OutgoingMessage]:
    """`n` envelopes (~230 bytes) spread over 1,000 apps and two days."""
    out = []
    for i in range(n):
        appid = 10 + i % 1000
        second = i * 7 % 172_800
        day, rest = 1 + second // 86_400, second % 86_400
        observed = f"2026-10-{day:02d}T{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}.000000Z"
        value = json.dumps(
            {
                "event_id": uuid.UUID(int=i).hex,
                "schema_version": 1,
                "source": SOURCE,
                "observed_at": observed,
                "partition_key": observed[:13].replace("T", "-") + ":00",
                "payload": {"appid": appid, "result": 1, "player_count": i % 50_000},
            },
            separators=(",", ":"),
        ).encode()
        out.append(OutgoingMessage(topic, key=str(appid), value=value))
    return out


def baseline_lander(kafka: KafkaResource, s3: S3Resource, topic: str, n: int, chunk: int = 100_000) -> float:
    """Consume every record with one Python consumer and write Parquet chunks to S3; returns seconds."""
    started = time.monotonic()
    consumer = Consumer(kafka.consumer_config(f"bench-{uuid.uuid4().hex[:6]}"))
    consumer.subscribe([topic])
    fs, root = s3.filesystem(), f"{s3.lake_path()}/baseline/{topic}"
    rows: list[dict[str, object]] = []
    seen = files = 0
    deadline = time.monotonic() + 1800
    while seen < n and time.monotonic() < deadline:
        for msg in consumer.consume(10_000, timeout=1.0):
            value = msg.value()
            if msg.error() or value is None:
                continue
            env = json.loads(value)
            env["payload"] = json.dumps(env["payload"])
            env.update(kafka_partition=msg.partition(), kafka_offset=msg.offset())
            rows.append(env)
            seen += 1
        if len(rows) >= chunk or (seen >= n and rows):
            pq.write_table(pa.Table.from_pylist(rows), f"{root}/part-{files:05d}.parquet", filesystem=fs)
            files += 1
            rows = []
    consumer.close()
    if seen < n:
        raise RuntimeError(f"baseline read only {seen} of {n} records")
    return time.monotonic() - started


def bare_spark(
    spark: SparkSession, kafka: KafkaResource, topic: str, root: str, args: argparse.Namespace, events: int
) -> float:
    """Land `topic` with a bare Kafka -> Parquet Structured Streaming query into `root`; returns seconds.

    Spark's file sink writes each micro-batch's files straight to `root` and records them in its
    `_spark_metadata` log (a replayed batch is recognised there): Spark's own exactly-once sink.
    """
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", kafka.bootstrap_servers)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("kafka.isolation.level", "read_committed")
    )
    if args.tuned_bare:  # the consumer setting bronze's reader has (streaming/bronze.py)
        reader = reader.option("kafka.fetch.max.wait.ms", str(FETCH_MAX_WAIT_MS))
    if args.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(args.max_offsets_per_trigger))
    columns = [
        F.col("value").cast("string").alias("raw_value"),
        F.col("key").cast("string").alias("kafka_key"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
    ]
    started = time.monotonic()
    query = (
        reader.load()
        .select(*columns)
        .writeStream.format("parquet")
        .option("path", f"{root}/data")
        .option("checkpointLocation", f"{root}/_checkpoint")
        .trigger(availableNow=True)
        .start()
    )
    if not query.awaitTermination(3600):
        query.stop()
        raise RuntimeError("the bare Spark query did not finish within an hour")
    took = time.monotonic() - started
    if query.exception() is not None:
        raise RuntimeError(f"the bare Spark query failed: {query.exception()}")
    landed = spark.read.parquet(f"{root}/data").count()
    if landed != events:
        raise RuntimeError(f"the bare Spark query landed {landed} of {events} rows")
    return took


def driver_jvms(connect: SparkConnectService | None = None) -> list[psutil.Process]:
    """The Spark driver JVM: this process's Java child, or the Connect server's JVM when attached."""
    if connect is not None:
        pid = connect.process().pid()
        tree = process_tree(pid) if pid else []
    else:
        tree = psutil.Process().children()
    jvms = []
    for proc in tree:
        try:
            if proc.name() == "java":
                jvms.append(proc)
        except psutil.Error:
            continue
    return jvms


def spark_cpu_s(connect: SparkConnectService | None = None) -> float:
    """CPU seconds (user + system) the Spark driver JVM has used so far.

    On two cores shared with the Kafka broker and the S3 server, wall time moves with what those
    do; the JVM's own CPU per landing is the steadier measure of what the landing costs.
    """
    total = 0.0
    for jvm in driver_jvms(connect):
        try:
            times = jvm.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def jvm_peak_rss_mib(connect: SparkConnectService | None = None) -> float:
    """Peak resident memory (VmHWM) of the Spark driver JVM (this process's, or the server's)."""
    return max((peak_rss_mib(jvm.pid) for jvm in driver_jvms(connect)), default=0.0)


def executors_peak_rss_mib(cluster: SparkClusterService) -> list[float]:
    """Peak resident memory (VmHWM) of each executor JVM the cluster's workers run now."""
    peaks = []
    for proc in cluster.processes():
        pid = proc.pid()
        for child in process_tree(pid) if pid else []:
            try:
                if "CoarseGrainedExecutorBackend" in " ".join(child.cmdline()):
                    peaks.append(peak_rss_mib(child.pid))
            except psutil.Error:  # exited meanwhile (or a zombie not reaped yet)
                continue
    return sorted(peaks)


def land(
    s3: S3Resource,
    kafka: KafkaResource,
    topic: str,
    args: argparse.Namespace,
    *,
    lake_root: str,
    cluster: SparkClusterService | None = None,
) -> tuple[BronzeStats, float, float, list[float]]:
    """One bronze landing of `topic`: stats, seconds, driver JVM peak RSS, executors' peak RSS.

    `cluster`: run as the driver of an application on it (client mode, executors on the workers,
    this interpreter on the executors), else `local[2]` in this process.
    """
    resource = build_pyspark_resource(
        s3,
        jars=[str(p) for p in connector_jars()],
        driver_memory=args.driver_memory,
        master=cluster.master_url if cluster else DEFAULT_SPARK_MASTER,
        python=sys.executable if cluster else None,
    )
    with resource.yield_for_execution(dg.build_init_resource_context()) as ready:
        spark = ready.spark_session
        expected = cluster.master_url if cluster else DEFAULT_SPARK_MASTER
        if spark.sparkContext.master != expected:  # a session left over from the other variant
            raise RuntimeError(f"the session runs on {spark.sparkContext.master}, not {expected}")
        job = BronzeJob(
            topic,
            kafka.bootstrap_servers,
            lake_root,
            max_offsets_per_trigger=args.max_offsets_per_trigger,
            timeout_s=3600,
        )
        started = time.monotonic()
        stats = run_bronze(spark, job)
        took = time.monotonic() - started
        executors = executors_peak_rss_mib(cluster) if cluster else []
        peak = jvm_peak_rss_mib()
        spark.stop()
    if stats.rows_landed != args.events:
        raise RuntimeError(f"landed {stats.rows_landed} of {args.events} rows: {stats}")
    return stats, took, peak, executors


def compare_cluster(
    s3: S3Resource, kafka: KafkaResource, topic: str, args: argparse.Namespace, cluster: SparkClusterService
) -> None:
    """The same topic landed by `local[2]`, then on the two-worker cluster; prints both and the ratio."""
    local, local_s, local_peak, _ = land(s3, kafka, topic, args, lake_root=f"{s3.lake_root()}/local")
    on_cluster, cluster_s, _, executors = land(
        s3, kafka, topic, args, lake_root=f"{s3.lake_root()}/cluster", cluster=cluster
    )
    local_rate, cluster_rate = args.events / local_s, args.events / cluster_s
    print(f"{'variant':<52} {'rows/s':>10} {'seconds':>8} {'vs local[2]':>12}")
    label = f"local[2]: driver = executor, 1 JVM ({len(local.batches)} batch(es))"
    print(f"{label:<52} {local_rate:>10.0f} {local_s:>8.1f} {1.0:>11.3f}x")
    label = f"cluster: 2 workers x 1 core, 1g ({len(on_cluster.batches)} batch(es))"
    print(f"{label:<52} {cluster_rate:>10.0f} {cluster_s:>8.1f} {cluster_rate / local_rate:>11.3f}x")
    print(
        f"bronze files local {local.files.files}, cluster {on_cluster.files.files}; driver JVM peak RSS "
        f"{local_peak:.0f} MiB (heap {args.driver_memory}); executors' peak RSS "
        + ", ".join(f"{m:.0f} MiB" for m in executors)
        + " (heap 1g each)"
    )


WARM_UP_EVENTS = 100_000


def produce_topic(kafka: KafkaResource, topic: str, events: int) -> int:
    """A fresh 6-partition topic holding `events` envelopes; returns their total bytes."""
    kafka.ensure_topics([TopicSpec(topic, partitions=6)])
    batch = messages(topic, events)
    kafka.produce_all(batch)
    return sum(len(m.value) for m in batch)


def measure_spark(
    s3: S3Resource,
    kafka: KafkaResource,
    topic: str,
    args: argparse.Namespace,
    base_s: float,
    connect: SparkConnectService | None = None,
) -> None:
    """Bare Spark and bronze on `topic` in one session, `--repeat` times each, alternating which goes
    first, each landing into a lake root of its own; prints the table of medians and every time.

    Whichever query runs first on the topic pays more (the JVM's code for that data volume is not
    yet compiled; measured: bare 5.0 -> 6.3 s, bronze 7.6 -> 11.5 s at 1M events): one pair would
    measure the order as much as the landing, so the ratio is taken between the medians.
    """
    resource = build_pyspark_resource(
        s3,
        jars=[str(p) for p in connector_jars()],
        driver_memory=args.driver_memory,
        remote=connect.remote if connect else None,
    )
    bare_times: list[float] = []
    bronze_times: list[float] = []
    bare_cpu: list[float] = []
    bronze_cpu: list[float] = []
    with resource.yield_for_execution(dg.build_init_resource_context()) as ready:
        spark = ready.spark_session
        warm_up = f"bench.warmup.{uuid.uuid4().hex[:6]}"
        produce_topic(kafka, warm_up, WARM_UP_EVENTS)
        bare_spark(spark, kafka, warm_up, f"{s3.lake_root()}/warm_up/bare", args, WARM_UP_EVENTS)
        run_bronze(spark, BronzeJob(warm_up, kafka.bootstrap_servers, f"{s3.lake_root()}/warm_up/bronze"))

        def bronze(attempt: int) -> BronzeStats:
            job = BronzeJob(
                topic,
                kafka.bootstrap_servers,
                f"{s3.lake_root()}/bronze_run/{attempt}",
                max_offsets_per_trigger=args.max_offsets_per_trigger,
                timeout_s=3600,
            )
            t0, cpu0 = time.monotonic(), spark_cpu_s(connect)
            landed = run_bronze(spark, job)
            bronze_times.append(time.monotonic() - t0)
            bronze_cpu.append(spark_cpu_s(connect) - cpu0)
            if landed.rows_landed != args.events:
                raise RuntimeError(f"bronze landed {landed.rows_landed} of {args.events} rows: {landed}")
            return landed

        def bare(attempt: int) -> None:
            root = f"{s3.lake_root()}/bare_spark/{topic}/{attempt}"
            cpu0 = spark_cpu_s(connect)
            bare_times.append(bare_spark(spark, kafka, topic, root, args, args.events))
            bare_cpu.append(spark_cpu_s(connect) - cpu0)

        for attempt in range(args.repeat):
            bronze_goes_first = args.bronze_first == (attempt % 2 == 0)
            if bronze_goes_first:
                stats = bronze(attempt)
                bare(attempt)
            else:
                bare(attempt)
                stats = bronze(attempt)
        peak = jvm_peak_rss_mib(connect)
        spark.stop()
    bare_s, bronze_s = statistics.median(bare_times), statistics.median(bronze_times)
    base_rate, bare_rate, bronze_rate = (args.events / s for s in (base_s, bare_s, bronze_s))
    header = f"{'variant (median of runs)':<52} {'rows/s':>10} {'seconds':>8}"
    print(f"{header} {'vs bare Spark':>14} {'vs Python':>10}")
    rows = [
        ("Python: one consumer + pyarrow to S3", base_rate, base_s),
        ("bare Spark: Kafka -> Parquet file sink", bare_rate, bare_s),
        (f"bronze: run_bronze availableNow ({len(stats.batches)} batch(es))", bronze_rate, bronze_s),
    ]
    for label, rate, took in rows:
        print(f"{label:<52} {rate:>10.0f} {took:>8.1f} {rate / bare_rate:>13.3f}x {rate / base_rate:>9.3f}x")
    first = "bronze" if args.bronze_first else "bare"
    print(
        f"runs ({first} first in runs 1, 3, ...): bare "
        + ", ".join(f"{t:.1f}" for t in bare_times)
        + " s; bronze "
        + ", ".join(f"{t:.1f}" for t in bronze_times)
        + " s; per-run ratios "
        + ", ".join(f"{b / r:.3f}x" for b, r in zip(bare_times, bronze_times, strict=True))
    )
    bare_c, bronze_c = statistics.median(bare_cpu), statistics.median(bronze_cpu)
    print(
        f"Spark JVM CPU seconds per landing (median): bare {bare_c:.1f}, bronze {bronze_c:.1f} "
        f"(bronze / bare CPU efficiency {bare_c / bronze_c:.3f}x); per run bare "
        + ", ".join(f"{c:.1f}" for c in bare_cpu)
        + "; bronze "
        + ", ".join(f"{c:.1f}" for c in bronze_cpu)
    )
    print(
        f"bronze / bare Spark = {bronze_rate / bare_rate:.3f}x (medians); bronze files {stats.files.files}, "
        f"{stats.files.bytes / 2**20:.1f} MiB; parser {stats.envelope_parser}; "
        f"{'Connect server' if connect else 'Spark driver'} JVM peak RSS {peak:.0f} MiB "
        f"(driver heap {args.driver_memory}); load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--max-offsets-per-trigger", type=int, default=None)
    parser.add_argument("--driver-memory", default="1g")
    parser.add_argument(
        "--bronze-first", action="store_true", help="bronze goes first in the first run (default: bare Spark)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each Spark query, alternating which goes first"
    )
    parser.add_argument(
        "--tuned-bare",
        action="store_true",
        help="give the bare query bronze's Kafka reader setting too (fetch.max.wait.ms): Spark's rate "
        "with that one setting, not only with its defaults",
    )
    parser.add_argument(
        "--connect",
        action="store_true",
        help="run both Spark queries attached to the stack's Spark Connect server, not in this process",
    )
    parser.add_argument(
        "--compare-cluster",
        action="store_true",
        help="land the topic with local[2] and on a two-worker Spark standalone cluster; print the ratio",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="bench-bronze-") as tmp:
        only = [
            "kafka",
            "s3",
            *([SPARK_CLUSTER] if args.compare_cluster else []),
            *([SPARK_CONNECT] if args.connect else []),
        ]
        stack = LocalStack(
            Path(tmp),
            brokers=1,
            only=only,
            prefer_default_ports=False,
            spark_cluster=args.compare_cluster,
            spark_connect=args.connect,
        )
        stack.up()
        try:
            env = stack.endpoints()
            kafka = KafkaResource(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"])
            s3 = S3Resource(
                endpoint_url=env["S3_ENDPOINT_URL"],
                region=env["AWS_REGION"],
                access_key_id=env["AWS_ACCESS_KEY_ID"],
                secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                bucket=env["LAKE_BUCKET"],
            )
            topic = f"bench.bronze.{uuid.uuid4().hex[:6]}"
            t0 = time.monotonic()
            size = produce_topic(kafka, topic, args.events)
            took = time.monotonic() - t0
            print(f"produced {args.events} events ({size / args.events:.0f} B each) in {took:.1f}s")

            if args.compare_cluster:
                (cluster,) = [svc for svc in stack.services if isinstance(svc, SparkClusterService)]
                compare_cluster(s3, kafka, topic, args, cluster)
                return

            base_s = baseline_lander(kafka, s3, topic, args.events)
            connect = next((svc for svc in stack.services if isinstance(svc, SparkConnectService)), None)
            measure_spark(s3, kafka, topic, args, base_s, connect)
        finally:
            stack.down()


if __name__ == "__main__":
    main()
