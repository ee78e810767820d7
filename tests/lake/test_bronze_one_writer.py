"""One writer per bronze checkpoint, with real writers: real Kafka, the real S3 server, Spark.

- Two lake landings of one topic start at the same moment: exactly one lands, the other is refused
  at once naming the winner, and bronze holds every event exactly once.
- A continuous job whose launching process dies (the Dagster run worker that started its
  `spark-submit --launcher-pid`, here a stand-in process; the job runs in-process to keep the test
  fast, the watch is the same code): once it holds the lease, a lake landing is refused naming it;
  once its launcher is gone it stops by itself (its first batch in flight or landed) and releases
  the lease, and the next landing takes over at once and lands the rest, every event once.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from lake_support import at, bronze_event_ids, committed_batches, event_ids, player_count_message, produce
from pyspark.sql import SparkSession

from steam_platform.resources.kafka import KafkaResource, OutgoingMessage, TopicSpec
from steam_platform.resources.s3 import S3Resource
from streaming.bronze import BronzeJob, BronzeStats, LauncherGone, run_bronze
from streaming.checkpoint_lease import CheckpointLeaseHeld, LeaseRecord, LeaseTiming, epoch_name
from streaming.lake_paths import checkpoint_path
from streaming.lease_stores import S3LeaseStore

pytestmark = pytest.mark.integration

LEASE = LeaseTiming(ttl_s=6, heartbeat_s=1)
LEASE_WAIT_S = 180
STOP_WAIT_S = 60


def _events(topic: str, count: int, first: int = 0) -> list[OutgoingMessage]:
    start = at("2026-10-09T08:00")
    return [player_count_message(topic, 30, start + timedelta(minutes=i), i) for i in range(first, count)]


def _assert_each_event_once(s3: S3Resource, topic: str, events: list[OutgoingMessage]) -> None:
    ids = bronze_event_ids(s3, topic)
    assert len(ids) == len(set(ids)) == len(events)
    assert set(ids) == event_ids(events)


def test_two_landings_starting_at_once_one_lands_the_other_is_refused_naming_it(
    spark: SparkSession, lake_kafka: KafkaResource, fresh_s3: Callable[[], S3Resource]
) -> None:
    s3 = fresh_s3()
    topic = f"test.lease.{uuid.uuid4().hex[:8]}"
    lake_kafka.ensure_topics([TopicSpec(topic, partitions=2)])
    events = _events(topic, 60)
    produce(lake_kafka, events)

    gate = threading.Barrier(2)
    outcomes: dict[str, BronzeStats | BaseException] = {}

    def land(writer: str) -> None:
        job = BronzeJob(topic, lake_kafka.bootstrap_servers, s3.lake_root(), writer=writer, lease=LEASE)
        gate.wait()
        try:
            outcomes[writer] = run_bronze(spark, job)
        except BaseException as exc:
            outcomes[writer] = exc

    threads = [threading.Thread(target=land, args=(f"lake run {n}",)) for n in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
        assert not thread.is_alive(), "a landing did not finish within 300s"

    landed = {w: o for w, o in outcomes.items() if isinstance(o, BronzeStats)}
    refused = {w: o for w, o in outcomes.items() if isinstance(o, CheckpointLeaseHeld)}
    assert len(landed) == 1 and len(refused) == 1, outcomes
    (winner, stats), (loser, error) = next(iter(landed.items())), next(iter(refused.items()))
    assert winner in str(error) and error.holder.owner.startswith(winner)
    assert stats.rows_landed == len(events)
    _assert_each_event_once(s3, topic, events)

    # The refused run, retried after the winner released the lease: nothing new, nothing twice.
    retried = run_bronze(spark, BronzeJob(topic, lake_kafka.bootstrap_servers, s3.lake_root(), writer=loser))
    assert retried.rows_landed == 0
    _assert_each_event_once(s3, topic, events)


def _lease_store(s3: S3Resource, topic: str) -> S3LeaseStore:
    prefix = checkpoint_path(s3.lake_root(), topic).split(f"{s3.bucket}/", 1)[1] + ".lease"
    return S3LeaseStore(s3.client(), s3.bucket, prefix)


def test_a_continuous_job_whose_launcher_dies_stops_and_hands_the_checkpoint_over(
    spark: SparkSession, lake_kafka: KafkaResource, fresh_s3: Callable[[], S3Resource]
) -> None:
    s3 = fresh_s3()
    topic = f"test.lease.{uuid.uuid4().hex[:8]}"
    lake_kafka.ensure_topics([TopicSpec(topic, partitions=2)])
    events = _events(topic, 80)
    produce(lake_kafka, events[:40])
    store = _lease_store(s3, topic)

    # Stands for the Dagster run worker that launched the job (`--launcher-pid` under spark-submit).
    launcher = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    job = BronzeJob(
        topic,
        lake_kafka.bootstrap_servers,
        s3.lake_root(),
        continuous_interval="1 second",
        timeout_s=240,
        writer="continuous run orphan-test",
        lease=LEASE,
        launcher_pid=launcher.pid,
    )
    outcome: dict[str, BaseException | BronzeStats] = {}

    def run() -> None:
        try:
            outcome["job"] = run_bronze(spark, job)
        except BaseException as exc:
            outcome["job"] = exc

    thread = threading.Thread(target=run, name="orphan-job", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + LEASE_WAIT_S
        while store.read(epoch_name(1)) is None:  # the job is up and holds the checkpoint
            assert thread.is_alive(), outcome
            assert time.monotonic() < deadline, f"the job took no lease within {LEASE_WAIT_S}s"
            time.sleep(0.2)

        # A lake landing meanwhile: refused at once, naming the continuous job.
        lake_run = BronzeJob(
            topic, lake_kafka.bootstrap_servers, s3.lake_root(), writer="lake run", lease=LEASE
        )
        with pytest.raises(CheckpointLeaseHeld, match="continuous run orphan-test"):
            run_bronze(spark, lake_run)
    finally:
        # The launching run dies: the job notices, stops its query and releases the lease.
        launcher.kill()
        launcher.wait(10)
        gone = time.monotonic()
        thread.join(STOP_WAIT_S)
    assert not thread.is_alive(), f"the orphaned job did not stop within {STOP_WAIT_S}s"
    assert time.monotonic() - gone < 15
    assert isinstance(outcome["job"], LauncherGone), outcome
    (epoch,) = [n for n in store.names() if n.startswith("epoch-")]
    record = store.read(epoch)
    assert epoch == epoch_name(1) and record is not None and LeaseRecord.from_bytes(record.body).released

    # The next landing takes over at once (released, no expiry wait) and lands the rest.
    produce(lake_kafka, events[40:])
    landed_before = committed_batches(s3, topic)
    stats = run_bronze(spark, lake_run)
    assert stats.rows_landed == len(events) - (40 if landed_before else 0)
    _assert_each_event_once(s3, topic, events)
