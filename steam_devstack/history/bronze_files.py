"""History written straight into bronze: one Parquet file per topic and day, then the day's manifest.

Layout: `<lake>/bronze/<topic>/dt=YYYY-MM-DD/batch_id=-1/part-00000-history.parquet`, the folders
the streaming job writes, so every reader of bronze (the warehouse, `tables_io.read_days`) sees
history rows as it sees landed ones. The file holds bronze's columns minus the partition columns
(`dt`, `batch_id` are folder names, as Spark writes them).

How a history row differs from a landed one (documented in docs/history.md):

- `batch_id` is `HISTORY_BATCH_ID` (-1). The streaming job's micro-batch ids come from its
  checkpoint and start at 0, so a real landing (dynamic partition overwrite of the `dt=/batch_id=`
  folders it writes) can never replace history, and history never replaces a landing;
- `kafka_partition`, `kafka_offset` and `kafka_timestamp` are null: the row never was on Kafka.
  `kafka_topic` names the topic it belongs to and `kafka_key` the key a producer would have used.

Atomic and resumable: the day's rows are one object (an S3 PUT, or a multipart upload completed
only at the end, is all or nothing: a killed run leaves no half day), and the day's manifest,
`<lake>/_history/<topic>/dt=YYYY-MM-DD.json` with its row count and the plan's identity, is written
after it. A day whose manifest exists with the same identity is finished and skipped; any other day
is written again to the same key (deterministic content: same event ids).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from streaming.lake_paths import bronze_path

#: The bronze `batch_id` of every history row: below every micro-batch id (0, 1, 2, ...).
HISTORY_BATCH_ID = -1
HISTORY_FILE = "part-00000-history.parquet"
MANIFESTS = "_history"

_TS = pa.timestamp("us", tz="UTC")
#: Bronze's columns (streaming/envelope_schema.py BRONZE_SCHEMA) as stored in a day's file. The
#: Kafka position is nullable here: history rows have none.
BRONZE_FILE_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("schema_version", pa.int32()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("observed_at", _TS, nullable=False),
        pa.field("partition_key", pa.string()),
        pa.field("payload", pa.string(), nullable=False),
        pa.field("kafka_topic", pa.string(), nullable=False),
        pa.field("kafka_partition", pa.int32()),
        pa.field("kafka_offset", pa.int64()),
        pa.field("kafka_timestamp", _TS),
        pa.field("kafka_key", pa.string()),
        pa.field("ingested_at", _TS, nullable=False),
    ]
)


def day_file(lake_path: str, topic: str, day: date) -> str:
    """The pyarrow path of `topic`'s history file for `day` (`lake_path` as `S3Resource.lake_path()`)."""
    return f"{bronze_path(lake_path, topic)}/dt={day.isoformat()}/batch_id={HISTORY_BATCH_ID}/{HISTORY_FILE}"


def manifest_file(lake_path: str, topic: str, day: date) -> str:
    """Where the manifest saying `topic`'s history of `day` is complete lives."""
    return f"{lake_path.rstrip('/')}/{MANIFESTS}/{topic}/dt={day.isoformat()}.json"


@dataclass(frozen=True)
class DayManifest:
    """A finished day: how it was written (bronze file or Kafka), its rows, and the plan identity."""

    topic: str
    day: date
    via: str
    rows: int
    identity: dict[str, int]

    def as_json(self) -> bytes:
        body: dict[str, Any] = {
            "topic": self.topic,
            "day": self.day.isoformat(),
            "via": self.via,
            "rows": self.rows,
            "identity": self.identity,
        }
        return json.dumps(body, sort_keys=True).encode()

    @classmethod
    def parse(cls, raw: bytes) -> DayManifest:
        body = json.loads(raw)
        return cls(
            body["topic"], date.fromisoformat(body["day"]), body["via"], int(body["rows"]), body["identity"]
        )


def read_manifest(fs: pafs.FileSystem, lake_path: str, topic: str, day: date) -> DayManifest | None:
    """The day's manifest, or None when the day was never finished."""
    try:
        with fs.open_input_stream(manifest_file(lake_path, topic, day)) as stream:
            return DayManifest.parse(stream.read())
    except FileNotFoundError:
        return None


def write_manifest(fs: pafs.FileSystem, lake_path: str, manifest: DayManifest) -> None:
    """Mark the day finished (written last)."""
    with fs.open_output_stream(manifest_file(lake_path, manifest.topic, manifest.day)) as stream:
        stream.write(manifest.as_json())


def write_day(fs: pafs.FileSystem, lake_path: str, topic: str, day: date, table: pa.Table) -> int:
    """Write the day's bronze file (one object, replacing an earlier attempt); returns its bytes."""
    path = day_file(lake_path, topic, day)
    pq.write_table(table, path, filesystem=fs, compression="snappy")
    return int(fs.get_file_info(path).size)


def file_rows(fs: pafs.FileSystem, lake_path: str, topic: str, day: date) -> int | None:
    """Rows in the day's history file, from its Parquet footer (no data read); None when missing."""
    try:
        return int(pq.read_metadata(day_file(lake_path, topic, day), filesystem=fs).num_rows)
    except FileNotFoundError:
        return None
