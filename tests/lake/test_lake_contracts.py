"""Lake contracts without servers: Spark schemas from tables.py, news text, bronze job arguments."""

from __future__ import annotations

import pytest
from pyspark.sql.types import DateType, LongType, StringType, TimestampType

from steam_platform.assets.marts.tables import MART_TABLES, MART_TOP_GAMES
from steam_platform.assets.warehouse.tables import WAREHOUSE_TABLES
from steam_platform.core import sources
from steam_platform.core.contracts import Table
from steam_platform.core.spark_schemas import SPARK_TYPES, spark_schema, written_schema
from streaming.bronze import parse_args
from streaming.envelope_schema import BRONZE_SCHEMA, ENVELOPE_WIRE_SCHEMA
from streaming.lake_paths import bronze_path, checkpoint_path, quarantine_path
from streaming.news_text import markup_to_text, word_count
from streaming.quality import schema_matches


@pytest.mark.parametrize("table", [*WAREHOUSE_TABLES, *MART_TABLES], ids=lambda t: t.name)
def test_spark_schema_is_the_contract(table: Table) -> None:
    schema = spark_schema(table)
    assert [f.name for f in schema.fields] == list(table.column_names)
    for field, column in zip(schema.fields, table.columns, strict=True):
        assert field.dataType == SPARK_TYPES[column.type]
        assert field.nullable == column.nullable


def test_written_schema_puts_the_partition_column_last() -> None:
    names = [f.name for f in written_schema(MART_TOP_GAMES).fields]
    assert names[-1] == "dt" and names[0] == "rank"
    assert schema_matches(written_schema(MART_TOP_GAMES), written_schema(MART_TOP_GAMES), "t").passed
    moved = spark_schema(MART_TOP_GAMES)  # dt first: the order differs from what readers see
    outcome = schema_matches(moved, written_schema(MART_TOP_GAMES), "mart_top_games")
    assert not outcome.passed and "column order differs" in outcome.message


def test_envelope_schemas_are_explicit() -> None:
    assert [f.name for f in ENVELOPE_WIRE_SCHEMA.fields] == [
        "event_id",
        "schema_version",
        "source",
        "observed_at",
        "partition_key",
        "payload",
    ]
    types = {f.name: f.dataType for f in BRONZE_SCHEMA.fields}
    assert types["observed_at"] == TimestampType()
    assert types["dt"] == DateType()
    assert types["kafka_offset"] == LongType()
    assert types["payload"] == StringType()


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("<p>Patch <b>1.2</b> is out&nbsp;&amp; live</p><br/>Enjoy", "Patch 1.2 is out & live Enjoy"),
        ("[h1]Update[/h1][list][*]Fixes[*]More [url=https://x.y]news[/url][/list]", "Update Fixes More news"),
        ("{STEAM_CLAN_IMAGE}/123/abc.png Hello", "Hello"),
        ("", ""),
        ("5 &lt; 6 &#39;quoted&#39;", "5 < 6 'quoted'"),
    ],
)
def test_markup_to_text(raw: str, text: str) -> None:
    assert markup_to_text(raw) == text
    assert word_count(markup_to_text(raw)) == len(text.split())


def test_markup_of_nothing_is_nothing() -> None:
    assert markup_to_text(None) is None and word_count(None) is None


def test_bronze_arguments_and_paths() -> None:
    news = sources.NEWS.topic
    args = parse_args(["--topic", news, "--bootstrap", "h:1", "--lake-root", "s3a://b/lake"])
    assert (args.continuous, args.interval, args.checkpoint) == (False, "1 minute", None)
    cont = parse_args(
        ["--topic", "t", "--bootstrap", "h:1", "--lake-root", "r", "--continuous", "--interval", "5 minutes"]
    )
    assert cont.continuous and cont.interval == "5 minutes"
    assert bronze_path("s3a://b/lake/", news) == f"s3a://b/lake/bronze/{news}"
    assert quarantine_path("s3a://b/lake", news) == f"s3a://b/lake/quarantine/{news}"
    assert checkpoint_path("s3a://b/lake", news) == f"s3a://b/lake/_checkpoints/bronze_{news}"
    with pytest.raises(SystemExit):
        parse_args(["--topic", "t"])
