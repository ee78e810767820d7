"""Compaction of a closed bronze day on the real object store, with Spark (issue #17, item 2).

Three landings of one day make three folders; compaction leaves one folder, one file, the same
rows. A reader in the middle of it (new folder written, old ones not yet deleted) builds the same
fact rows; the offsets still reconcile; a late landing into the compacted day continues the record;
and a compaction that finds a landing holding the checkpoint's lease waits for it instead of
writing beside it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from lake_support import player_count_message, produce
from pyspark.sql import DataFrame, SparkSession

from steam_platform.assets.lake.bronze import _whole_dataset_reconciles, offsets_outcome
from steam_platform.assets.lake.compaction import closed_days, compact_source
from steam_platform.assets.warehouse.facts import FACTS
from steam_platform.resources.kafka import KafkaResource, TopicSpec
from steam_platform.resources.s3 import S3Resource
from streaming.bronze import BronzeJob, BronzeStats, run_bronze
from streaming.checkpoint_lease import CheckpointLeaseHeld, LeaseTiming, acquire, writer_identity
from streaming.compaction import COMPACTED_BATCH_BASE, compact_day, compactable, compacted_batch_id
from streaming.envelope_schema import BRONZE_SCHEMA
from streaming.hadoop_fs import parquet_stats, partition_values
from streaming.lake_paths import bronze_path, checkpoint_path
from streaming.lease_stores import lease_store_for
from streaming.tables_io import day_folder, read_days

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 10)
FACT = FACTS["fact_player_counts"]


def test_landing_folders_and_earlier_compactions_are_rewritten_history_is_left_alone() -> None:
    base = COMPACTED_BATCH_BASE
    assert compactable([base - 1, base, -1, 0, 7]) == [base - 1, base, 0, 7]
    assert compacted_batch_id([-1, 0, 7]) == base
    assert compacted_batch_id([base - 1, -1, 9]) == base - 2


def test_closed_days_leave_yesterday_and_today_alone() -> None:
    today = date(2026, 12, 4)
    stored = [date(2026, 12, d) for d in (1, 2, 3, 4)]
    assert closed_days(stored, today) == [date(2026, 12, 1), date(2026, 12, 2)]


def _land(spark: SparkSession, kafka: KafkaResource, root: str, topic: str, hour: int) -> BronzeStats:
    moment = datetime(DAY.year, DAY.month, DAY.day, hour, tzinfo=UTC)
    produce(kafka, [player_count_message(topic, appid, moment, 10 * appid) for appid in range(1, 6)])
    return run_bronze(spark, BronzeJob(topic, kafka.bootstrap_servers, root))


def _facts(spark: SparkSession, root: str, topic: str) -> list[tuple[object, ...]]:
    bronze = read_days(spark, bronze_path(root, topic), BRONZE_SCHEMA, [DAY])
    frame: DataFrame = FACT.build(bronze, DAY)
    return sorted(tuple(r) for r in frame.collect())


def test_a_compacted_day_holds_the_same_rows_in_one_file_and_readers_never_miss_a_row(
    spark: SparkSession, lake_kafka: KafkaResource, fresh_s3: Callable[..., S3Resource]
) -> None:
    root = fresh_s3("compaction").lake_root()
    topic = f"test.compaction.{uuid.uuid4().hex[:8]}"
    lake_kafka.ensure_topics([TopicSpec(topic, partitions=2)])
    for hour in (8, 9, 10):
        _land(spark, lake_kafka, root, topic, hour)
    folder = day_folder(bronze_path(root, topic), DAY)
    assert len(partition_values(spark, folder, "batch_id")) == 3
    facts_before = _facts(spark, root, topic)
    assert len(facts_before) == 15

    seen_mid_way: dict[str, object] = {}

    def read_mid_way() -> None:  # a reader between the new folder's commit and the old ones' deletion
        seen_mid_way["bronze_rows"] = read_days(spark, bronze_path(root, topic), BRONZE_SCHEMA, [DAY]).count()
        seen_mid_way["facts"] = _facts(spark, root, topic)

    result = compact_day(spark, root, topic, DAY, before_delete=read_mid_way)
    assert result is not None
    assert (result.folders_before, result.files_before, result.files_after, result.rows) == (3, 3, 1, 15)
    assert seen_mid_way == {"bronze_rows": 30, "facts": facts_before}  # every row twice, facts once
    assert partition_values(spark, folder, "batch_id") == [str(COMPACTED_BATCH_BASE)]
    assert parquet_stats(spark, folder).files == 1
    assert _facts(spark, root, topic) == facts_before
    whole = _whole_dataset_reconciles(spark, root, topic)
    assert whole.passed and "15 rows, each Kafka offset exactly once" in whole.message, whole.message
    assert compact_day(spark, root, topic, DAY) is None  # one folder: nothing to do

    # A late landing into the compacted day continues where landing stopped, and reconciles.
    late = _land(spark, lake_kafka, root, topic, 23)
    assert late.continuity_known and late.continuity_problems == []
    outcome = offsets_outcome(spark, root, topic, late)
    assert outcome.passed, outcome.message

    # A landing holding the checkpoint's lease: compaction waits for it, then fails clearly.
    checkpoint = checkpoint_path(root, topic)
    timing = LeaseTiming(ttl_s=30.0, heartbeat_s=5.0)
    holder = acquire(lease_store_for(spark, checkpoint), checkpoint, writer_identity("a landing"), timing)
    try:
        logged: list[str] = []
        today = DAY + timedelta(days=5)
        with pytest.raises(CheckpointLeaseHeld, match="a landing"):
            compact_source(spark, root, topic, today, "compaction", logged.append, lease_wait_s=1.0)
    finally:
        holder.release()
    done = compact_source(spark, root, topic, DAY + timedelta(days=5), "compaction", logged.append)
    assert [(d.day, d.folders_before, d.rows) for d in done] == [(DAY, 2, 20)]
    assert logged and "2 folders" in logged[0]
    assert partition_values(spark, folder, "batch_id") == [str(COMPACTED_BATCH_BASE - 1)]
