"""Reads mart and warehouse partitions from the lake as search documents.

The search layer needs rows, not Spark: a mart partition is a folder `<table>/dt=YYYY-MM-DD/` of
Parquet files (Spark writes the `dt` value in the folder name, not in the files), read here with
pyarrow from any pyarrow filesystem — S3 in the stack and production, a local folder in unit tests.
Rows come back as JSON-ready dicts (ISO dates, NaN as null) restricted to the contract's columns.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from steam_platform.core.contracts import Table

PARTITION_PREFIX = "dt="


class ContractError(ValueError):
    """A lake partition does not match its table contract (missing columns)."""


def fs_path(lake_root: str) -> str:
    """A lake root as a pyarrow filesystem path: `s3a://bucket/lake` -> `bucket/lake`."""
    scheme, sep, rest = lake_root.partition("://")
    return (rest if sep else scheme).rstrip("/")


def partition_dir(lake_root: str, table: Table, dt: str) -> str:
    """The folder holding one day of `table` (`dt` as YYYY-MM-DD)."""
    date.fromisoformat(dt)  # a clear error for a malformed partition key
    return f"{table.path(fs_path(lake_root))}/{PARTITION_PREFIX}{dt}"


def list_partitions(fs: pafs.FileSystem, lake_root: str, table: Table) -> list[str]:
    """The `dt` values present in the lake for `table`, sorted (empty when the table has none)."""
    root = table.path(fs_path(lake_root))
    infos = fs.get_file_info(pafs.FileSelector(root, allow_not_found=True))
    found = [
        info.base_name.removeprefix(PARTITION_PREFIX)
        for info in infos
        if info.type == pafs.FileType.Directory and info.base_name.startswith(PARTITION_PREFIX)
    ]
    return sorted(found)


def read_partition(fs: pafs.FileSystem, lake_root: str, table: Table, dt: str) -> pa.Table:
    """One partition as an Arrow table with exactly the contract's columns (none rows: empty table).

    A missing folder means the partition holds no rows (Spark writes no folder for an empty day).
    """
    path = partition_dir(lake_root, table, dt)
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        return pa.table({name: pa.array([], type=pa.null()) for name in table.column_names})
    # Spark's `_SUCCESS` and `.crc` files are skipped by pyarrow's default ignore prefixes.
    dataset = pads.dataset(path, filesystem=fs, format="parquet")
    data = dataset.to_table()
    if table.partition_column and table.partition_column not in data.column_names:
        data = data.append_column(
            table.partition_column, pa.array([date.fromisoformat(dt)] * data.num_rows, type=pa.date32())
        )
    missing = [c for c in table.column_names if c not in data.column_names]
    if missing:
        raise ContractError(
            f"{table.name} dt={dt} lacks contract column(s) {missing} (found {data.column_names})"
        )
    return data.select(list(table.column_names))


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # Elasticsearch rejects NaN/Infinity in JSON
    return value


def to_documents(data: pa.Table, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows of `data` as JSON-ready dicts holding `fields` only."""
    rows = data.select(list(fields)).to_pylist()
    return [{k: _json_value(v) for k, v in row.items()} for row in rows]


class LakeStore(Protocol):
    """What the search layer needs from the lake resource (`S3Resource` or a local folder)."""

    def filesystem(self) -> pafs.FileSystem:
        """A pyarrow filesystem holding the lake."""
        ...

    def lake_root(self) -> str:
        """The lake's root, e.g. `s3a://steam-lake/lake` (a scheme is optional)."""
        ...
