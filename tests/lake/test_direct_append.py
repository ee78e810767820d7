"""Bronze's appends write their files in place (`DirectAppendCommitProtocol`, issue #17 item 5):
nothing is staged and moved (on S3 a move copies every byte), a replay still replaces the batch's
files, a failed task leaves none of its own, and the protocol refuses the overwrite it cannot do.

On the test session's Spark with a local lake folder; the landing on the stack's S3 server, with
kills and replays, is tests/lake/test_lake_pipeline.py's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lake_support import player_count_message
from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from streaming.bronze_batch import (
    COMMIT_PROTOCOL_CONF,
    DIRECT_APPEND_PROTOCOL,
    QUERY_PROTOCOL,
    land_batch,
    query_commit_protocol,
)
from streaming.envelope_schema import BRONZE_SCHEMA
from streaming.lake_paths import bronze_path
from streaming.planned_offsets import PlannedOffsets

TOPIC = "test.direct"
KAFKA_SCHEMA = "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
PLANNED = PlannedOffsets(end={0: 4, 1: 4}, start={0: 0, 1: 0})


def _batch(spark: SparkSession) -> DataFrame:
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 10, 1, 23, 58, tzinfo=UTC)
    rows = []
    for i in range(8):
        message = player_count_message(TOPIC, 10 + i, start + timedelta(minutes=i), i)
        rows.append((message.key.encode(), message.value, TOPIC, i % 2, i // 2, start))
    return spark.createDataFrame(rows, KAFKA_SCHEMA)


def _files(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.name.endswith(".crc")
    )


def test_an_append_writes_in_place_and_its_replay_replaces_it(
    spark_session: SparkSession, tmp_path: Path
) -> None:
    spark, root = spark_session, f"file://{tmp_path}/lake"
    table = tmp_path / "lake" / "bronze" / TOPIC
    protocol_before = spark.conf.get(COMMIT_PROTOCOL_CONF)

    stats = land_batch(_batch(spark), 7, root, TOPIC, PLANNED, ran_before=False, direct_appends=True)
    assert stats.rows == 8 and stats.days == {"2026-10-01", "2026-10-02"}
    written = _files(table)
    # In place: the data files and nothing else (Spark's own protocol stages in `_temporary` and
    # leaves `_SUCCESS`, as the append without the protocol below shows).
    assert written and all(name.startswith("dt=") and "/batch_id=7/part-" in name for name in written), (
        written
    )
    assert not (table / "_temporary").exists()
    assert spark.conf.get(COMMIT_PROTOCOL_CONF) == protocol_before  # the session is left as it was

    land_batch(_batch(spark), 8, root, TOPIC, PLANNED, ran_before=False, direct_appends=False)
    assert (table / "_SUCCESS").exists()

    # Batch 7 replayed (it may have run before): Spark's protocol replaces its folders, no doubles.
    assert land_batch(_batch(spark), 7, root, TOPIC, PLANNED, ran_before=True, direct_appends=True) == stats
    bronze = spark.read.schema(BRONZE_SCHEMA).parquet(bronze_path(root, TOPIC))
    assert sorted(r.batch_id for r in bronze.collect()) == [7] * 8 + [8] * 8
    assert bronze.select("event_id").distinct().count() == 8


def _direct(spark: SparkSession) -> SparkSession:
    session = spark.newSession()  # its own SQL settings: the shared session is not changed
    session.conf.set(COMMIT_PROTOCOL_CONF, DIRECT_APPEND_PROTOCOL)
    return session


def test_a_failed_task_leaves_no_file_of_its_own(spark_session: SparkSession, tmp_path: Path) -> None:
    spark = _direct(spark_session)
    ids = F.col("id")
    # One task: it opens its file in place on the first row, then fails at the last (not partitioned:
    # a partitioned write sorts every row before it opens a file).
    frame = spark.range(0, 1000, 1, 1).select(
        F.when(ids == 999, F.raise_error(F.lit("poison at 999"))).otherwise(ids).alias("id")
    )
    with pytest.raises(PySparkException, match="poison at 999"):
        frame.write.mode("append").parquet(str(tmp_path / "out"))
    assert _files(tmp_path / "out") == []  # the task's abort deleted what it had opened


def test_the_protocol_refuses_a_dynamic_overwrite(spark_session: SparkSession, tmp_path: Path) -> None:
    spark = _direct(spark_session)
    frame = spark.range(4).withColumn("part", F.col("id") % 2)
    with pytest.raises(Py4JJavaError, match="only appends"):
        frame.write.mode("overwrite").option("partitionOverwriteMode", "dynamic").partitionBy("part").parquet(
            str(tmp_path / "out")
        )


def test_the_query_wide_protocol_appends_in_place_and_replays_through_sparks(
    spark_session: SparkSession, tmp_path: Path
) -> None:
    """`BronzeQueryCommitProtocol`, set on a session for a whole query (bronze on Spark Connect): an
    append writes in place as the direct protocol does, a replay's dynamic overwrite goes through
    Spark's protocol and replaces the batch's files, with no protocol chosen per write."""
    spark, root = spark_session.newSession(), f"file://{tmp_path}/lake"
    table = tmp_path / "lake" / "bronze" / TOPIC
    with query_commit_protocol(spark):
        assert spark.conf.get(COMMIT_PROTOCOL_CONF) == QUERY_PROTOCOL
        stats = land_batch(_batch(spark), 7, root, TOPIC, PLANNED, ran_before=False, direct_appends=False)
        written = _files(table)
        assert written and all("/batch_id=7/part-" in name for name in written), written  # no _SUCCESS
        # The replay (it may have run before): a dynamic overwrite, which the direct protocol
        # refuses (above), goes through Spark's staging and replaces the batch's files.
        again = land_batch(_batch(spark), 7, root, TOPIC, PLANNED, ran_before=True, direct_appends=False)
        assert again == stats
        replaced = _files(table)
        assert replaced and not set(replaced) & set(written), (written, replaced)
        assert not [p for p in table.iterdir() if p.name.startswith(".spark-staging")]
    assert spark.conf.get(COMMIT_PROTOCOL_CONF, None) != QUERY_PROTOCOL  # restored after the query
    bronze = spark.read.schema(BRONZE_SCHEMA).parquet(bronze_path(root, TOPIC))
    assert sorted(r.batch_id for r in bronze.collect()) == [7] * 8
    assert bronze.select("event_id").distinct().count() == 8
