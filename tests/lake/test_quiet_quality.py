"""Quality rules on quiet data (no servers): emptiness passes, contract breaks still fail."""

from __future__ import annotations

from datetime import date

from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType

from streaming.quality import schema_matches, silver_reconciles

DAY = date(2026, 10, 25)
CONTRACT = StructType([StructField("event_id", StringType()), StructField("word_count", IntegerType())])


def test_a_day_without_events_reconciles_with_zero_rows() -> None:
    outcome = silver_reconciles(0, 0, "fact_news", DAY)
    assert outcome.passed
    assert outcome.message == "fact_news dt=2026-10-25: a quiet day: bronze holds no events for it, 0 rows"
    assert outcome.metadata == {"bronze_distinct_events": 0, "silver_rows": 0, "invalid_payloads": 0}


def test_an_empty_partition_still_fails_when_bronze_holds_events() -> None:
    outcome = silver_reconciles(3, 0, "fact_news", DAY)
    assert not outcome.passed
    assert "partition missing or empty, but bronze holds 3 event(s)" in outcome.message


def test_rows_where_bronze_holds_none_fail() -> None:
    outcome = silver_reconciles(0, 2, "fact_news", DAY)
    assert not outcome.passed
    assert "2 rows but bronze holds 0 distinct event(s) (+2)" in outcome.message


def test_schema_breaks_are_named() -> None:
    retyped = StructType([StructField("event_id", StringType()), StructField("word_count", LongType())])
    outcome = schema_matches(retyped, CONTRACT, "fact_news")
    assert not outcome.passed
    assert "word_count: bigint (contract int)" in outcome.message
    missing = schema_matches(StructType(CONTRACT.fields[:1]), CONTRACT, "fact_news")
    assert not missing.passed and "missing ['word_count']" in missing.message
    assert schema_matches(CONTRACT, CONTRACT, "fact_news").passed
