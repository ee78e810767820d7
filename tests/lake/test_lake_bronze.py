"""Bronze job against real Kafka, the real object store and Spark: exactly-once across a killed run.

A `spark-submit streaming/bronze.py` run is SIGKILLed while a micro-batch is in flight (its offsets
are logged, its commit is not); the next run waits for the dead job's checkpoint lease to expire,
takes it over, replays that batch and finishes. Bronze must then hold
every produced event exactly once; malformed records sit in quarantine with their reasons.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from lake_support import at, event_ids, player_count_message, produce, raw_message
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from steam_devstack.services.spark import connector_jars
from steam_platform.resources.kafka import KafkaResource, TopicSpec
from steam_platform.resources.s3 import S3Resource
from streaming.bronze import BronzeJob, run_bronze
from streaming.checkpoint_lease import LeaseTiming
from streaming.envelope_schema import BRONZE_SCHEMA, QUARANTINE_SCHEMA
from streaming.lake_paths import bronze_path, checkpoint_path, quarantine_path
from streaming.quality import kafka_offsets_reconcile
from streaming.tables_io import read_table

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
KILL_WAIT_S = 240


def _checkpoint_state(s3: S3Resource, topic: str) -> tuple[set[int], set[int]]:
    """Batch ids with a logged offset range, and those committed."""
    prefix = checkpoint_path(s3.lake_root(), topic).split(f"{s3.bucket}/", 1)[1]
    logged: set[int] = set()
    committed: set[int] = set()
    for page in s3.client().get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            kind, name = obj["Key"].split("/")[-2:]
            if name.isdigit() and kind in ("offsets", "commits"):
                (logged if kind == "offsets" else committed).add(int(name))
    return logged, committed


def _kill_mid_batch(s3: S3Resource, topic: str, env: dict[str, str], log: Path) -> tuple[set[int], set[int]]:
    """Start the job with spark-submit and SIGKILL it while a batch is logged but not committed."""
    cmd = [
        str(REPO / ".venv/bin/spark-submit"),
        "--master",
        "local[2]",
        "--driver-memory",
        "768m",
        "--jars",
        env["STEAM_SPARK_JARS"].replace(":", ","),
        str(REPO / "streaming/bronze.py"),
        "--topic",
        topic,
        "--bootstrap",
        env["KAFKA_BOOTSTRAP_SERVERS"],
        "--lake-root",
        s3.lake_root(),
        "--max-offsets-per-trigger",
        "150",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=out, start_new_session=True)
    deadline = time.monotonic() + KILL_WAIT_S
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:]
                raise AssertionError(
                    f"the job ended (rc {proc.returncode}) before it was interrupted:\n{tail}"
                )
            logged, committed = _checkpoint_state(s3, topic)
            if committed and max(logged) > max(committed):
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                return logged, committed
            time.sleep(0.1)
        raise AssertionError(f"no batch in flight within {KILL_WAIT_S}s")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def test_killed_run_then_rerun_lands_every_event_exactly_once(
    spark: SparkSession,
    lake_kafka: KafkaResource,
    fresh_s3: Callable[[], S3Resource],
    stack_env: dict[str, str],
    tmp_path: Path,
) -> None:
    s3 = fresh_s3()
    topic = f"test.bronze.{uuid.uuid4().hex[:8]}"
    lake_kafka.ensure_topics([TopicSpec(topic, partitions=3)])
    start = at("2026-10-01T22:00")
    good = [player_count_message(topic, 100 + i % 20, start + timedelta(minutes=i), i) for i in range(1500)]
    bad = [
        raw_message(topic, b"not json"),
        raw_message(
            topic, b'{"event_id": "abcdefabcdefabcdef", "source": "s", "observed_at": "soon", "payload": {}}'
        ),
        raw_message(
            topic, b'{"event_id": "abcdefabcdefabcdef", "source": "s", "observed_at": "2026-10-01T00:00:00Z"}'
        ),
    ]
    produce(lake_kafka, good[:1000] + bad + good[1000:])

    env = {
        **os.environ,
        **stack_env,
        "STEAM_SPARK_JARS": ":".join(str(p) for p in connector_jars()),
        "PYSPARK_PYTHON": sys.executable,
        # A short lease, so the next run can take the dead job's over within seconds.
        "BRONZE_LEASE_TTL_S": "3",
        "BRONZE_LEASE_HEARTBEAT_S": "1",
    }
    logged, committed = _kill_mid_batch(s3, topic, env, tmp_path / "bronze.log")
    assert max(logged) not in committed  # the kill interrupted a batch in flight

    rerun = BronzeJob(
        topic,
        lake_kafka.bootstrap_servers,
        s3.lake_root(),
        timeout_s=600,
        lease=LeaseTiming(ttl_s=6, heartbeat_s=1),
        lease_wait_s=30,  # the killed job's lease expires after its 3 s, then it is taken over
    )
    stats = run_bronze(spark, rerun)
    bronze = read_table(spark, bronze_path(s3.lake_root(), topic), BRONZE_SCHEMA)
    quarantine = read_table(spark, quarantine_path(s3.lake_root(), topic), QUARANTINE_SCHEMA)

    rows = bronze.select("event_id", "kafka_partition", "kafka_offset", "dt").collect()
    assert len(rows) == len(good)
    assert {r.event_id for r in rows} == event_ids(good)  # none missing, none twice
    assert len({(r.kafka_partition, r.kafka_offset) for r in rows}) == len(good)
    assert Counter(str(r.dt) for r in rows) == Counter(
        (start + timedelta(minutes=i)).date().isoformat() for i in range(len(good))
    )
    reasons = sorted(r.reason for r in quarantine.collect())
    assert reasons == sorted(
        [
            "not a JSON envelope or event_id missing",
            "observed_at is not an ISO-8601 timestamp",
            "payload missing",
        ]
    )
    # The second run started where the killed one left off: it re-ran the uncommitted batch only.
    assert stats.batches[0] == max(committed) + 1
    assert stats.offset_span == stats.records_read == stats.rows_landed + stats.rows_quarantined
    cols = ["kafka_partition", "kafka_offset"]
    whole = kafka_offsets_reconcile(bronze.select(*cols).unionByName(quarantine.select(*cols)), topic)
    assert whole.passed, whole.message
    assert whole.metadata["rows"] == len(good) + len(bad)

    # Nothing new: nothing lands. New events: only they land.
    assert run_bronze(spark, BronzeJob(topic, lake_kafka.bootstrap_servers, s3.lake_root())).rows_landed == 0
    more = [player_count_message(topic, 7, start + timedelta(days=1, minutes=i), i) for i in range(40)]
    produce(lake_kafka, more)
    again = run_bronze(spark, BronzeJob(topic, lake_kafka.bootstrap_servers, s3.lake_root()))
    assert again.rows_landed == 40
    assert again.files.files >= 1 and again.files.bytes > 0
    total = read_table(spark, bronze_path(s3.lake_root(), topic), BRONZE_SCHEMA)
    assert total.count() == total.select("event_id").distinct().count() == len(good) + 40
    assert total.where(F.col("ingested_at").isNull()).count() == 0


def test_continuous_mode_lands_what_arrives_while_it_runs(
    spark: SparkSession, lake_kafka: KafkaResource, fresh_s3: Callable[[], S3Resource]
) -> None:
    s3 = fresh_s3()
    topic = f"test.bronze.{uuid.uuid4().hex[:8]}"
    lake_kafka.ensure_topics([TopicSpec(topic, partitions=2)])
    events = [
        player_count_message(topic, 5, at("2026-10-05T00:00") + timedelta(minutes=i), i) for i in range(30)
    ]
    produce(lake_kafka, events)
    job = BronzeJob(
        topic, lake_kafka.bootstrap_servers, s3.lake_root(), continuous_interval="2 seconds", timeout_s=25
    )
    stats = run_bronze(spark, job)  # processing-time trigger until the timeout, then a clean stop
    assert stats.rows_landed == 30
    bronze = read_table(spark, bronze_path(s3.lake_root(), topic), BRONZE_SCHEMA)
    assert {r.event_id for r in bronze.select("event_id").collect()} == event_ids(events)
