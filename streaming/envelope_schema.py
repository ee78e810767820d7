"""The event envelope as Spark sees it: explicit schemas for parsing Kafka values and for bronze.

Bronze keeps Steam's payload as the JSON text it arrived in (parsing it is the warehouse's job, per
topic), so one envelope schema serves every topic and a new Steam field never breaks ingestion.
"""

from __future__ import annotations

from pyspark.sql.types import (
    DateType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

#: The JSON envelope on the wire (steam_platform/events/envelope.py). `observed_at` is parsed
#: separately (ISO-8601 text -> timestamp) so an unparsable time is quarantined with its reason;
#: `payload` as a string keeps the object's raw JSON text.
ENVELOPE_WIRE_SCHEMA = StructType(
    [
        StructField("event_id", StringType()),
        StructField("schema_version", IntegerType()),
        StructField("source", StringType()),
        StructField("observed_at", StringType()),
        StructField("partition_key", StringType()),
        StructField("payload", StringType()),
    ]
)

#: Provenance columns added from the Kafka record and the landing run.
KAFKA_COLUMNS = StructType(
    [
        StructField("kafka_topic", StringType(), nullable=False),
        StructField("kafka_partition", IntegerType(), nullable=False),
        StructField("kafka_offset", LongType(), nullable=False),
        StructField("kafka_timestamp", TimestampType()),
        StructField("kafka_key", StringType()),
        StructField("ingested_at", TimestampType(), nullable=False),
    ]
)

#: One bronze row: the envelope (typed), Kafka provenance, landing time, and the partition columns
#: `dt` (UTC day of observed_at) and `batch_id` (the streaming micro-batch that wrote it; re-running
#: a batch after a crash replaces exactly its own files, which makes the sink exactly-once).
BRONZE_SCHEMA = StructType(
    [
        StructField("event_id", StringType(), nullable=False),
        StructField("schema_version", IntegerType()),
        StructField("source", StringType(), nullable=False),
        StructField("observed_at", TimestampType(), nullable=False),
        StructField("partition_key", StringType()),
        StructField("payload", StringType(), nullable=False),
        *KAFKA_COLUMNS.fields,
        StructField("dt", DateType(), nullable=False),
        StructField("batch_id", LongType(), nullable=False),
    ]
)

#: A record that could not be landed: the raw value, why, and where it came from.
QUARANTINE_SCHEMA = StructType(
    [
        StructField("raw_value", StringType()),
        StructField("reason", StringType(), nullable=False),
        *KAFKA_COLUMNS.fields,
        StructField("batch_id", LongType(), nullable=False),
    ]
)

BRONZE_COLUMNS = tuple(f.name for f in BRONZE_SCHEMA.fields)
QUARANTINE_COLUMNS = tuple(f.name for f in QUARANTINE_SCHEMA.fields)
