"""Continuous bronze under Dagster Pipes, against real Kafka, the real object store and spark-submit.

`bronze_continuous_job` launches `spark-submit streaming/bronze.py --continuous` through the
`pipes_subprocess` client for a bounded time. Half the events exist before it starts, half arrive
after its first batch has landed. Bronze must hold each of them exactly once, and the Dagster run
must have recorded the job's own per-batch logs and the materialization it reported on stopping.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import dagster as dg
import pytest
from continuous_run import ContinuousRun
from lake_support import at, bronze_event_ids, event_ids, player_count_message, produce

from steam_devstack.services.spark import connector_jars
from steam_platform.resources.kafka import KafkaResource, TopicSpec
from steam_platform.resources.s3 import S3Resource
from steam_platform.resources.spark import build_pipes_client

pytestmark = pytest.mark.integration

#: The job stops itself IDLE_STOP_S after its last batch (the late events landed), at the latest after
#: STOP_AFTER_S; the whole Dagster run gets RUN_BOUND_S, then it is killed.
IDLE_STOP_S = 10
STOP_AFTER_S = 240
RUN_BOUND_S = 300
FIRST_BATCH_WAIT_S = 180
ASSET = "bronze_player_counts"


def test_continuous_bronze_under_pipes_lands_every_event_once_and_reports(
    lake_kafka: KafkaResource, fresh_s3: Callable[[], S3Resource]
) -> None:
    s3 = fresh_s3()
    topic = f"test.bronze.{uuid.uuid4().hex[:8]}"
    lake_kafka.ensure_topics([TopicSpec(topic, partitions=2)])
    start = at("2026-10-07T10:00")
    events = [player_count_message(topic, 11, start + timedelta(minutes=i), 100 + i) for i in range(80)]
    produce(lake_kafka, events[:50])

    job = ContinuousRun(topic, s3)
    pipes = build_pipes_client(jars=[str(p) for p in connector_jars()], driver_memory="768m")
    config = {"interval": "2 seconds", "stop_after_s": STOP_AFTER_S, "stop_when_idle_s": IDLE_STOP_S}
    job.start(pipes, lake_kafka, {**config, "asset_key": ASSET})
    try:
        job.wait_for_first_batch(FIRST_BATCH_WAIT_S)
        produce(lake_kafka, events[50:])  # arrives while the query runs
    except BaseException:
        job.kill()
        raise
    result = job.finish(RUN_BOUND_S)
    instance = job.instance

    ids = bronze_event_ids(s3, topic)
    rows = len(ids)
    assert rows == len(events)
    assert set(ids) == event_ids(events) and len(set(ids)) == rows

    # The materialization the job reported through Pipes, recorded against the bronze asset.
    recorded = instance.get_latest_materialization_event(dg.AssetKey(ASSET))
    assert recorded is not None and recorded.run_id == result.run_id
    materialization = recorded.asset_materialization
    assert materialization is not None
    meta = materialization.metadata
    assert meta["rows_landed"].value == len(events)
    assert meta["records_read"].value == meta["offset_span"].value == len(events)
    assert meta["rows_quarantined"].value == 0
    batches, files, size = (meta[k].value for k in ("batches", "files_written", "bytes_written"))
    assert isinstance(batches, int) and batches >= 2  # the late half landed in a later batch
    assert isinstance(files, int) and files >= 2 and isinstance(size, int) and size > 0
    offsets = meta["kafka_offsets"].value
    assert isinstance(offsets, dict) and sum(o["records"] for o in offsets.values()) == len(events)
    assert meta["trigger"].value == "processingTime=2 seconds"
    assert meta["envelope_parser"].value == "jvm"  # spark-submit's --jars (STEAM_SPARK_JARS) carry it

    # The job's own per-batch progress lines, streamed into the run's logs.
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    batch_lines = [m for m in messages if f"{topic} batch" in m and "landed" in m]
    assert len(batch_lines) >= 2
    assert sum(int(m.split("landed ", 1)[1].split(" ", 1)[0]) for m in batch_lines) == len(events)
    assert any(f"{topic}: stopping after" in m for m in messages)
    secret = s3.secret_access_key
    assert secret and not any(secret in m for m in messages)
