"""Spark through the `pyspark` resource: Parquet on `s3a://` and Kafka -> Parquet streaming.

The streaming test is the path the lake layer builds on: a Structured Streaming query reads a Kafka
topic with `trigger(availableNow=True)` into a Parquet folder on the S3 server, its checkpoint on
S3 too. Each run takes exactly what arrived since the last one: no record lost, none duplicated.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from steam_platform.resources.kafka import KafkaResource, OutgoingMessage, TopicSpec
from steam_platform.resources.s3 import S3Resource

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
