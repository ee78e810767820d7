"""What a table contract is: columns, portable types, descriptions, keys and partitioning.

The warehouse (silver) contracts live in `assets/warehouse/tables.py`, the mart (gold) ones in
`assets/marts/tables.py`.

One declaration serves every consumer: the Spark jobs write exactly these columns (`streaming/`
converts the type names to a Spark schema), the asset checks compare written schemas with them, the
column descriptions become Dagster metadata, and the search layer derives Elasticsearch mappings and
Kibana field types from them. Changing a table means changing its contract first.

Type names are portable: `string`, `long`, `int`, `double`, `date`, `timestamp`, `boolean`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["string", "long", "int", "double", "date", "timestamp", "boolean"]


@dataclass(frozen=True)
class Column:
    """One column of a table: its name, portable type, nullability and business meaning."""

    name: str
    type: ColumnType
    description: str
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    """A silver or gold table: where it lives under the lake root, how it is partitioned and keyed."""

    name: str
    layer: Literal["warehouse", "marts"]
    description: str
    columns: tuple[Column, ...]
    #: Columns whose values identify one row (the deterministic Elasticsearch `_id` for marts).
    key: tuple[str, ...]
    #: Partition column on the object store (`dt=YYYY-MM-DD` folders), None when unpartitioned.
    partition_column: str | None = "dt"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """The column called `name` (KeyError when the table has none)."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    def path(self, lake_root: str) -> str:
        """The table's folder, e.g. `s3a://steam-lake/lake/marts/mart_game_daily`."""
        return f"{lake_root.rstrip('/')}/{self.layer}/{self.name}"


def col(name: str, type_: ColumnType, description: str, nullable: bool = True) -> Column:
    """A column of a contract (shorthand used by the layers' table declarations)."""
    return Column(name, type_, description, nullable)


DT = col("dt", "date", "UTC calendar day the row belongs to (partition)", nullable=False)
