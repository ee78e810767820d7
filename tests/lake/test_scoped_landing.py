"""A landing and a day's build read what they touch, not the lake's history (issue #17, item 2).

A bronze dataset with two weeks of earlier days (written directly in bronze's layout), then real
landings from Kafka with the real Spark job. What each step lists is read from Spark's own file
index (`DataFrame.inputFiles()`: every file a read would consider, before any filter): it must hold
only the days the landing wrote. The reconciliation that now costs one landing must still fail on
what the whole-dataset one caught: an offset landed twice, offsets skipped between landings.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

from lake_support import player_count_message, produce
from pyspark.sql import SparkSession

from steam_platform.assets.lake.bronze import _rows_this_run_touched, offsets_outcome
from steam_platform.resources.kafka import KafkaResource, OutgoingMessage, TopicSpec
from steam_platform.resources.s3 import S3Resource
from streaming.bronze import BronzeJob, BronzeStats, run_bronze
from streaming.envelope_schema import BRONZE_SCHEMA
from streaming.lake_paths import bronze_path, checkpoint_path
from streaming.landed_days import landed_days, landing_folders
from streaming.landed_offsets import LandedOffsets, LandedOffsetsStore
from streaming.lease_stores import lease_store_for
from streaming.tables_io import read_days, read_days_from

DAY = date(2026, 11, 20)
HISTORY = [DAY - timedelta(days=n) for n in range(1, 15)]
#: History rows carry a Kafka partition the topic does not have, so they never meet its offsets.
HISTORY_PARTITION = 99


def _days_of(files: list[str]) -> set[str]:
    return {m.group(1) for f in files if (m := re.search(r"/dt=(\d{4}-\d{2}-\d{2})/", f))}


def _write_history(spark: SparkSession, root: str, topic: str) -> None:
    """Two batch folders per earlier day, three rows each, in bronze's layout."""
    rows = []
    offset = 0
    for day in HISTORY:
        moment = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        for batch in (-2, -1):
            for n in range(3):
                envelope = (f"h-{day}-{batch}-{n}", 1, "history", moment, "k", "{}")
                rows.append((*envelope, topic, HISTORY_PARTITION, offset, moment, "1", moment, day, batch))
                offset += 1
    frame = spark.createDataFrame(rows, BRONZE_SCHEMA)
    frame.write.mode("append").partitionBy("dt", "batch_id").parquet(bronze_path(root, topic))


def _counts(topic: str, day: date, hour: int, apps: range) -> list[OutgoingMessage]:
    moment = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return [player_count_message(topic, appid, moment, 100 + appid) for appid in apps]


def _land(spark: SparkSession, kafka: KafkaResource, root: str, topic: str) -> BronzeStats:
    return run_bronze(spark, BronzeJob(topic, kafka.bootstrap_servers, root))


def test_a_landing_reads_what_it_wrote_and_its_reconciliation_still_catches_doubles_and_gaps(
    spark: SparkSession, lake_kafka: KafkaResource, fresh_s3: object
) -> None:
    s3: S3Resource = fresh_s3("scoped")  # type: ignore[operator]
    root = s3.lake_root()
    topic = f"test.scoped.{uuid.uuid4().hex[:8]}"
    lake_kafka.ensure_topics([TopicSpec(topic, partitions=2)])
    bronze = bronze_path(root, topic)
    _write_history(spark, root, topic)

    # The first landing finds no record of earlier landings: it reconciles the whole dataset once.
    produce(lake_kafka, _counts(topic, DAY, 10, range(1, 7)))
    first = _land(spark, lake_kafka, root, topic)
    assert first.days == [DAY.isoformat()] and not first.continuity_known
    outcome = offsets_outcome(spark, root, topic, first)
    assert outcome.passed, outcome.message
    assert "whole dataset (no earlier landing recorded)" in outcome.message

    # The next one continues the record and reads only the days it wrote.
    next_day = DAY + timedelta(1)
    produce(lake_kafka, [*_counts(topic, DAY, 11, range(1, 5)), *_counts(topic, next_day, 0, range(1, 3))])
    second = _land(spark, lake_kafka, root, topic)
    touched = {DAY.isoformat(), next_day.isoformat()}
    assert second.continuity_known and second.continuity_problems == []
    assert set(second.days) == touched and second.rows_landed == 6
    assert _days_of(_rows_this_run_touched(spark, root, topic, second).inputFiles()) == touched
    outcome = offsets_outcome(spark, root, topic, second)
    assert outcome.passed, outcome.message
    assert "each offset read exactly once" in outcome.message
    assert "starts where the last landing stopped" in outcome.message
    folders = landing_folders(spark, bronze, second.days, second.batches)
    assert folders and {f.rsplit("/batch_id=", 1)[1] for f in folders} == set(map(str, second.batches))
    assert _days_of([f + "/" for f in folders]) == touched
    assert second.files.files == len(folders)  # a poll-sized batch writes one file per day
    assert landed_days(spark, root, topic, second.batches, second.days, by_publication=False) == sorted(
        date.fromisoformat(d) for d in touched
    )

    # A day's read lists that day; a news-style read lists the days from its day on.
    assert _days_of(read_days(spark, bronze, BRONZE_SCHEMA, [DAY]).inputFiles()) == {DAY.isoformat()}
    since = HISTORY[2]
    expected = {d.isoformat() for d in HISTORY if d >= since} | touched
    assert _days_of(read_days_from(spark, bronze, BRONZE_SCHEMA, since).inputFiles()) == expected

    # An offset landed twice in a touched day is caught: a landed file copied into another batch.
    client = s3.client()
    key_prefix = bronze.split(f"{s3.bucket}/", 1)[1] + f"/dt={DAY}/batch_id={second.batches[0]}/"
    (landed_file,) = [
        o["Key"]
        for o in client.list_objects_v2(Bucket=s3.bucket, Prefix=key_prefix)["Contents"]
        if o["Key"].endswith(".parquet")
    ][:1]
    copy = landed_file.replace(f"batch_id={second.batches[0]}/", "batch_id=999/")
    client.copy_object(Bucket=s3.bucket, Key=copy, CopySource={"Bucket": s3.bucket, "Key": landed_file})
    doubled = offsets_outcome(spark, root, topic, second)
    assert not doubled.passed and "landed twice" in doubled.message, doubled.message
    client.delete_object(Bucket=s3.bucket, Key=copy)

    # Offsets skipped between landings are caught: as if the last landing had stopped 3 offsets
    # earlier than where the checkpoint resumes (a checkpoint moved forward, records lost).
    store = LandedOffsetsStore(lease_store_for(spark, checkpoint_path(root, topic)))
    record = store.read()
    assert record is not None
    store.write(LandedOffsets({p: o - 3 for p, o in record.next_offset.items()}, None, {}))
    produce(lake_kafka, _counts(topic, next_day, 1, range(1, 7)))
    third = _land(spark, lake_kafka, root, topic)
    assert third.continuity_problems and all("were skipped" in p for p in third.continuity_problems)
    skipped = offsets_outcome(spark, root, topic, third)
    assert not skipped.passed and "does not start where the last landing stopped" in skipped.message
