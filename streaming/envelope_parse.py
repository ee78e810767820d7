"""Kafka record -> bronze row or quarantine row: parse the envelope and say why a record is bad.

A bad record (not JSON, missing id, unparsable time, payload not an object) never stops the
stream: it is kept with its raw value and a reason, so nothing is lost and the producer's fault
can be fixed and replayed.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from streaming.envelope_schema import BRONZE_COLUMNS, ENVELOPE_WIRE_SCHEMA, QUARANTINE_COLUMNS


def _reason(env: Column, observed_at: Column) -> Column:
    """The first thing wrong with a parsed envelope, or null when it can be landed."""
    payload = F.ltrim(env["payload"])
    return (
        F.when(F.col("raw_value").isNull(), F.lit("empty Kafka value"))
        .when(env.isNull() | env["event_id"].isNull(), F.lit("not a JSON envelope or event_id missing"))
        .when(F.length(env["event_id"]) < 16, F.lit("event_id shorter than 16 characters"))
        .when(env["source"].isNull(), F.lit("source missing"))
        .when(env["observed_at"].isNull(), F.lit("observed_at missing"))
        .when(observed_at.isNull(), F.lit("observed_at is not an ISO-8601 timestamp"))
        .when(payload.isNull(), F.lit("payload missing"))
        .when(~payload.startswith("{"), F.lit("payload is not a JSON object"))
    )


def parse_kafka_records(records: DataFrame) -> DataFrame:
    """Kafka source rows -> one row per record with bronze columns plus `reason` (null = good).

    Expects the Kafka source's columns (key, value, topic, partition, offset, timestamp) and a
    `batch_id` column.
    """
    raw = records.select(
        F.col("value").cast("string").alias("raw_value"),
        F.col("key").cast("string").alias("kafka_key"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        F.current_timestamp().alias("ingested_at"),
        F.col("batch_id").cast("long").alias("batch_id"),
    )
    env = F.from_json(F.col("raw_value"), ENVELOPE_WIRE_SCHEMA, {"mode": "PERMISSIVE"})
    with_env = raw.withColumn("env", env)
    observed_at = F.expr("try_cast(env.observed_at AS TIMESTAMP)")
    return with_env.select(
        "*",
        F.col("env.event_id").alias("event_id"),
        F.col("env.schema_version").alias("schema_version"),
        F.col("env.source").alias("source"),
        observed_at.alias("observed_at"),
        F.col("env.partition_key").alias("partition_key"),
        F.col("env.payload").alias("payload"),
        F.to_date(observed_at).alias("dt"),
        _reason(F.col("env"), observed_at).alias("reason"),
    ).drop("env")


def good_rows(parsed: DataFrame) -> DataFrame:
    """The landable rows in bronze column order."""
    return parsed.where(F.col("reason").isNull()).select(*BRONZE_COLUMNS)


def quarantined_rows(parsed: DataFrame) -> DataFrame:
    """The bad rows with their raw value and reason, in quarantine column order."""
    return parsed.where(F.col("reason").isNotNull()).select(*QUARANTINE_COLUMNS)
