"""The table contracts (`tables.py`) as Spark schemas, for the jobs in `streaming/` to conform to.

`streaming/` never imports the platform: the assets convert a contract here and pass the schema in.
"""

from __future__ import annotations

from pyspark.sql.types import (
    BooleanType,
    DataType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from steam_platform.core.contracts import ColumnType, Table

SPARK_TYPES: dict[ColumnType, DataType] = {
    "string": StringType(),
    "long": LongType(),
    "int": IntegerType(),
    "double": DoubleType(),
    "date": DateType(),
    "timestamp": TimestampType(),
    "boolean": BooleanType(),
}


def spark_schema(table: Table) -> StructType:
    """The table's columns, in contract order, with Spark types and nullability."""
    return StructType([StructField(c.name, SPARK_TYPES[c.type], c.nullable) for c in table.columns])


def written_schema(table: Table) -> StructType:
    """The schema Parquet readers see: partition columns come back last (after the data columns)."""
    schema = spark_schema(table)
    if table.partition_column is None:
        return schema
    data = [f for f in schema.fields if f.name != table.partition_column]
    part = [f for f in schema.fields if f.name == table.partition_column]
    return StructType(data + part)
