"""Spark through the `pyspark` resource: Parquet on `s3a://` and Kafka -> Parquet streaming.

The streaming test is the path the lake layer builds on: a Structured Streaming query reads a Kafka
topic with `trigger(availableNow=True)` into a Parquet folder on the S3 server, its checkpoint on
S3 too. Each run takes exactly what arrived since the last one: no record lost, none duplicated.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from steam_platform.resources.kafka import KafkaResource, OutgoingMessage, TopicSpec
from steam_platform.resources.s3 import S3Resource
from streaming import hadoop_fs, python_fs
from streaming.s3_access import s3_access

pytestmark = pytest.mark.integration

STREAM_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def kafka(stack_env: dict[str, str]) -> KafkaResource:
    return KafkaResource(bootstrap_servers=stack_env["KAFKA_BOOTSTRAP_SERVERS"])


def test_spark_writes_and_reads_partitioned_parquet_on_s3a(spark: SparkSession, s3: S3Resource) -> None:
    path = f"{s3.lake_root()}/test/{uuid.uuid4().hex[:10]}/fact_player_counts"
    rows = [(570, "2026-10-01", 700_000), (730, "2026-10-01", 1_500_000), (570, "2026-10-02", 710_000)]
    frame = spark.createDataFrame(rows, "appid long, dt string, players long")
    frame.write.mode("overwrite").partitionBy("dt").parquet(path)

    # Spark infers the partition column's type back from the folder names (`dt=` -> date).
    back = spark.read.parquet(path).select("appid", F.col("dt").cast("string").alias("dt"), "players")
    assert back.count() == 3
    assert sorted(tuple(r) for r in back.collect()) == sorted(rows)

    # Dynamic partition overwrite: rewriting one day replaces that day and keeps the other.
    fix = spark.createDataFrame([(570, "2026-10-02", 720_000)], "appid long, dt string, players long")
    fix.write.mode("overwrite").partitionBy("dt").parquet(path)
    after = {(r.appid, str(r.dt)): r.players for r in spark.read.parquet(path).collect()}
    assert after == {
        (570, "2026-10-01"): 700_000,
        (730, "2026-10-01"): 1_500_000,
        (570, "2026-10-02"): 720_000,
    }
    # The committed files are real objects on the server, readable by another client.
    keys = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix=path.split(f"{s3.bucket}/", 1)[1])
    assert any(o["Key"].endswith(".parquet") and "/dt=2026-10-01/" in o["Key"] for o in keys["Contents"])


def _run_available_now(
    spark: SparkSession, kafka: KafkaResource, topic: str, out: str, checkpoint: str
) -> None:
    """One availableNow run of the Kafka -> Parquet query; raises if it fails or overruns."""
    events = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", kafka.bootstrap_servers)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .load()
        .select(
            F.col("key").cast("string").alias("key"),
            F.col("value").cast("string").alias("value"),
            "topic",
            "partition",
            "offset",
            F.to_date("timestamp").cast("string").alias("dt"),
        )
    )
    query = (
        events.writeStream.format("parquet")
        .option("path", out)
        .option("checkpointLocation", checkpoint)
        .partitionBy("dt")
        .trigger(availableNow=True)
        .start()
    )
    finished = query.awaitTermination(STREAM_TIMEOUT_S)
    if not finished:
        query.stop()
        raise AssertionError(f"the availableNow run did not finish within {STREAM_TIMEOUT_S}s")
    if query.exception() is not None:
        raise AssertionError(f"the streaming query failed: {query.exception()}")


def _produce(kafka: KafkaResource, topic: str, ids: range) -> None:
    messages = [OutgoingMessage(topic, key=f"app-{i % 7}", value=f'{{"n": {i}}}'.encode()) for i in ids]
    assert kafka.produce_all(messages).acked_total == len(ids)


def _rows(spark: SparkSession, path: str) -> list[Any]:
    return spark.read.parquet(path).select("value", "partition", "offset", "dt").collect()


def test_kafka_to_parquet_available_now_is_exactly_once(
    spark: SparkSession, kafka: KafkaResource, s3: S3Resource
) -> None:
    job = f"test_stream_{uuid.uuid4().hex[:8]}"
    topic = f"test.stream.{job}"
    out = f"{s3.lake_root()}/test/{job}/bronze"
    checkpoint = f"{s3.lake_root()}/_checkpoints/{job}"
    kafka.ensure_topics([TopicSpec(topic, partitions=3)])
    first, second = range(0, 120), range(120, 170)

    _produce(kafka, topic, first)
    _run_available_now(spark, kafka, topic, out, checkpoint)
    rows = _rows(spark, out)
    assert len(rows) == len(first)
    assert sorted(r.value for r in rows) == sorted(f'{{"n": {i}}}' for i in first)

    _run_available_now(spark, kafka, topic, out, checkpoint)  # nothing new: nothing added
    assert len(_rows(spark, out)) == len(first)

    _produce(kafka, topic, second)
    _run_available_now(spark, kafka, topic, out, checkpoint)
    rows = _rows(spark, out)
    assert len(rows) == len(first) + len(second)
    assert len({(r.partition, r.offset) for r in rows}) == len(rows)  # no record written twice
    assert sorted(r.value for r in rows) == sorted(f'{{"n": {i}}}' for i in [*first, *second])
    assert {r.partition for r in rows} == {0, 1, 2}
    # The checkpoint lives on S3 next to the lake.
    prefix = checkpoint.split(f"{s3.bucket}/", 1)[1]
    checkpoint_keys = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix=prefix).get("Contents", [])
    assert any("/offsets/" in o["Key"] for o in checkpoint_keys)


@pytest.mark.parametrize("where", ["s3a", "file"])
def test_python_filesystem_answers_as_hadoops(
    where: str, spark: SparkSession, s3: S3Resource, tmp_path: Path
) -> None:
    """What a Spark Connect run sees through pyarrow equals what the driver's Hadoop FileSystem sees
    (listings, partition values, Parquet stats of globs, text, deletes), on the lake's S3 store with
    the session's own S3 settings and on a local folder (where Hadoop writes `.crc` files)."""
    base = f"{s3.lake_root()}/test/{uuid.uuid4().hex[:10]}" if where == "s3a" else f"file://{tmp_path}"
    root = f"{base}/table"
    rows = [(i, f"2026-10-0{1 + i % 2}", i % 3) for i in range(12)]
    frame = spark.createDataFrame(rows, "id long, dt string, batch_id int")
    frame.write.mode("overwrite").partitionBy("dt", "batch_id").parquet(root)
    spark.createDataFrame([("v1",)], "value string").coalesce(1).write.mode("overwrite").text(f"{base}/note")
    (note,) = [n for n in hadoop_fs.child_names(spark, f"{base}/note") if n.startswith("part-")]
    access = s3_access(spark) if where == "s3a" else None

    def on(path: str) -> python_fs.Located:
        return python_fs.locate(path, access)

    day = f"{root}/dt=2026-10-01"
    assert sorted(python_fs.child_names(on(day))) == sorted(hadoop_fs.child_names(spark, day))
    for path, column in ((root, "dt"), (day, "batch_id"), (f"{root}/none", "dt")):
        assert sorted(python_fs.partition_values(on(path), column)) == sorted(
            hadoop_fs.partition_values(spark, path, column)
        )
    globs = (root, f"{root}/dt=*", f"{root}/dt=*/batch_id={{0,2}}", f"{root}/dt=2026-10-0?/batch_id=1")
    for pattern in globs:
        got = python_fs.parquet_stats(on(pattern).fs, on(pattern).path)
        assert got == tuple(vars(hadoop_fs.parquet_stats(spark, pattern)).values()), pattern
        assert got[0] > 0
    text = f"{base}/note/{note}"
    assert python_fs.read_text(on(text)) == hadoop_fs.read_text(spark, text) == "v1\n"
    assert python_fs.read_text(on(f"{base}/missing")) is hadoop_fs.read_text(spark, f"{base}/missing") is None
    assert python_fs.exists(on(day)) and not python_fs.exists(on(f"{base}/missing"))
    assert python_fs.delete(on(f"{day}/batch_id=1")) and not python_fs.delete(on(f"{day}/batch_id=1"))
    assert not hadoop_fs.exists(spark, f"{day}/batch_id=1")
    assert sorted(hadoop_fs.partition_values(spark, day, "batch_id")) == ["0", "2"]
