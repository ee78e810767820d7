"""A bronze micro-batch lands in one pass: parsed once, written, and tallied on the way (issue #17,
item 5), with the same figures the two-pass landing had, and the same files when it is replayed.

The planned offsets and the observed tallies are plain data (no Spark); the landing itself runs on
the test session's Spark with a local lake folder, on an in-memory frame shaped like the Kafka
source's micro-batch.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from lake_support import player_count_message
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from streaming.batch_tally import grouped_tally, observe_tally, stats_from_metrics
from streaming.bronze_batch import land_batch
from streaming.envelope_parse import JVM_PARSER_FUNCTION, good_rows, parse_kafka_records
from streaming.envelope_schema import BRONZE_SCHEMA, QUARANTINE_SCHEMA
from streaming.lake_paths import bronze_path, quarantine_path
from streaming.planned_offsets import PlannedOffsets, topic_offsets

TOPIC = "test.tally"
KAFKA_SCHEMA = "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"


def test_planned_offsets_come_from_the_last_line_naming_the_topic() -> None:
    entry = 'v1\n{"batchWatermarkMs":0,"conf":{"x":"1"}}\n{"test.tally":{"1":20,"0":10}}\n'
    assert topic_offsets(entry, TOPIC) == {0: 10, 1: 20}
    assert topic_offsets(entry, "other.topic") is None
    assert topic_offsets("v1\nnot json\n", TOPIC) is None
    planned = PlannedOffsets(end={0: 10, 1: 20}, start={0: 4, 1: 20})
    assert planned.partitions == [0, 1] and planned.records == 6
    assert PlannedOffsets(end={0: 10}).records is None  # no start known: no estimate
    assert PlannedOffsets(end={0: 10, 2: 3}, start={0: 4}).records is None  # a partition added since


def test_observed_tallies_that_miss_a_row_are_not_trusted() -> None:
    metrics = {"records": 5, "quarantined": 1, "days": [datetime(2026, 10, 1, tzinfo=UTC).date()]}
    metrics |= {"lo_0": 10, "hi_0": 12, "n_0": 3, "lo_1": 7, "hi_1": 8, "n_1": 2, "lo_2": None, "hi_2": None}
    stats = stats_from_metrics({**metrics, "n_2": 0}, [0, 1, 2])
    assert stats is not None
    assert stats.offsets == {0: (10, 13, 3), 1: (7, 9, 2)}
    assert (stats.rows, stats.quarantined, stats.days) == (4, 1, {"2026-10-01"})
    assert stats_from_metrics(metrics, [0]) is None  # partition 1's rows are outside the plan


def _batch(spark: SparkSession) -> DataFrame:
    """A micro-batch as the Kafka source gives it: two partitions, two days, one malformed record."""
    start = datetime(2026, 10, 1, 23, 58, tzinfo=UTC)
    rows = []
    for i in range(6):
        message = player_count_message(TOPIC, 10 + i, start + timedelta(minutes=i), i)
        rows.append((message.key.encode(), message.value, TOPIC, i % 2, 100 + i // 2, start))
    rows[3] = (rows[3][0], rows[3][1].replace(b'"observed_at"', b'"seen_at"'), *rows[3][2:])
    rows.append((None, b"not json", TOPIC, 1, 103, start))
    return spark.createDataFrame(rows, KAFKA_SCHEMA)


def test_a_batch_lands_in_one_pass_with_the_two_pass_tallies_and_replays_onto_its_own_files(
    spark_session: SparkSession, tmp_path: Path
) -> None:
    spark = spark_session
    batch, root = _batch(spark), f"file://{tmp_path}/lake"
    parsed = parse_kafka_records(batch.withColumn("batch_id", F.lit(4)))
    expected = grouped_tally(parsed)
    assert expected.offsets == {0: (100, 103, 3), 1: (100, 104, 4)}
    assert (expected.rows, expected.quarantined) == (5, 2)

    # The envelope is parsed once per row, by the JVM parser (the landing's default when the
    # session has its jar; both parsers: tests/lake/test_envelope_parsers.py).
    plan = good_rows(observe_tally(parsed, [0, 1])[0])._jdf.queryExecution().optimizedPlan().toString()
    assert plan.count(f"{JVM_PARSER_FUNCTION}(") == 1 and "from_json(" not in plan

    planned = PlannedOffsets(end={0: 103, 1: 104}, start={0: 100, 1: 100})
    assert land_batch(batch, 4, root, TOPIC, planned, ran_before=False) == expected
    # A plan that misses a partition: the tallies are counted again, the same.
    assert land_batch(batch, 5, root, TOPIC, PlannedOffsets(end={0: 103}), ran_before=False) == expected

    # Batch 4 replayed (it may have run before): its folders are replaced, nothing doubles.
    assert land_batch(batch, 4, root, TOPIC, planned, ran_before=True) == expected
    bronze = spark.read.schema(BRONZE_SCHEMA).parquet(bronze_path(root, TOPIC))
    assert sorted(r.batch_id for r in bronze.collect()) == [4] * 5 + [5] * 5
    days = sorted(str(r.dt) for r in bronze.where("batch_id = 4").collect())
    assert days == ["2026-10-01"] * 2 + ["2026-10-02"] * 3 and expected.days == {"2026-10-01", "2026-10-02"}
    held = spark.read.schema(QUARANTINE_SCHEMA).parquet(quarantine_path(root, TOPIC))
    assert sorted((r.batch_id, r.reason) for r in held.collect()) == [
        (4, "not a JSON envelope or event_id missing"),
        (4, "observed_at missing"),
        (5, "not a JSON envelope or event_id missing"),
        (5, "observed_at missing"),
    ]
