"""In-memory lake tables for the Spark unit tests of the warehouse and mart rules (no servers).

Bronze rows are the envelopes `lake_support` builds, landed as the bronze job lands them: the
envelope typed, `payload` kept as JSON text, `dt` the UTC day of `observed_at`, Kafka provenance
made up (partition 0 and offsets in list order unless given). Silver and gold rows are plain dicts
typed by their table contract. Collected rows come back as dicts whose timestamps are aware UTC
datetimes, so they compare with the inputs whatever the machine's time zone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import reduce
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from steam_platform.core.contracts import Table
from steam_platform.core.spark_schemas import spark_schema
from steam_platform.resources.kafka import OutgoingMessage
from streaming.envelope_schema import BRONZE_COLUMNS, BRONZE_SCHEMA

#: Where a record sits in Kafka: (partition, offset).
Position = tuple[int, int]


def bronze_row(message: OutgoingMessage, position: Position = (0, 0)) -> dict[str, Any]:
    """One bronze row of an enveloped record at `position` in its topic."""
    env = json.loads(message.value)
    observed = datetime.fromisoformat(env["observed_at"]).astimezone(UTC)
    return {
        "event_id": env["event_id"],
        "schema_version": env["schema_version"],
        "source": env["source"],
        "observed_at": observed,
        "partition_key": env["partition_key"],
        "payload": json.dumps(env["payload"], separators=(",", ":")),
        "kafka_topic": message.topic,
        "kafka_partition": position[0],
        "kafka_offset": position[1],
        "kafka_timestamp": observed,
        "kafka_key": message.key,
        "ingested_at": observed,
        "dt": observed.date(),
        "batch_id": 0,
    }


def bronze_frame(
    spark: SparkSession, messages: Sequence[OutgoingMessage], positions: Sequence[Position] | None = None
) -> DataFrame:
    """Bronze (BRONZE_SCHEMA) holding `messages`; at partition 0, offsets 0.. unless `positions` say."""
    where = list(positions) if positions is not None else [(0, i) for i in range(len(messages))]
    if len(where) != len(messages):
        raise ValueError(f"{len(messages)} messages but {len(where)} positions")
    rows = [bronze_row(m, p) for m, p in zip(messages, where, strict=True)]
    return spark.createDataFrame([tuple(r[c] for c in BRONZE_COLUMNS) for r in rows], BRONZE_SCHEMA)


def table_frame(spark: SparkSession, table: Table, rows: Sequence[Mapping[str, Any]]) -> DataFrame:
    """Rows of `table` typed by its contract; a column a row leaves out is null."""
    unknown = {k for r in rows for k in r} - set(table.column_names)
    if unknown:
        raise ValueError(f"{table.name} has no columns {sorted(unknown)}")
    return spark.createDataFrame(
        [tuple(r.get(c) for c in table.column_names) for r in rows], spark_schema(table)
    )


def collected(frame: DataFrame) -> list[dict[str, Any]]:
    """The frame's rows as dicts; timestamps as aware UTC datetimes (Spark returns local naive ones)."""
    return [
        {k: v.astimezone(UTC) if isinstance(v, datetime) else v for k, v in row.asDict().items()}
        for row in frame.collect()
    ]


def by(rows: Sequence[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    """Collected rows by the value of their `key` column (which must be unique)."""
    keyed = {r[key]: r for r in rows}
    assert len(keyed) == len(rows), f"{key} is not unique in {rows}"
    return keyed


def union_all(frames: Sequence[DataFrame]) -> DataFrame:
    """The frames' rows in one frame: one Spark action collects them all."""
    return reduce(DataFrame.unionByName, frames)


def columns_and_types(frame_or_table: DataFrame | Table) -> list[tuple[str, str]]:
    """(name, Spark type) of each column, in order: a frame's, or a contract's."""
    schema = spark_schema(frame_or_table) if isinstance(frame_or_table, Table) else frame_or_table.schema
    return [(f.name, f.dataType.simpleString()) for f in schema.fields]


def same_rows(left: DataFrame, right: DataFrame) -> bool:
    """Both frames hold the same rows, duplicates counted (e.g. a range build and day-by-day builds)."""
    return (
        left.count() == right.count() and left.exceptAll(right).isEmpty() and right.exceptAll(left).isEmpty()
    )
