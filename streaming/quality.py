"""Data-quality rules over lake tables, as plain outcomes (the Dagster checks report them).

Each rule returns whether it passed, a message a person can act on, and numbers for metadata.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import reduce
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

EXAMPLES = 5


@dataclass(frozen=True)
class Outcome:
    """The result of one rule: passed, why, and figures for metadata."""

    passed: bool
    message: str
    metadata: dict[str, Any] = field(default_factory=dict)


def no_duplicate_keys(frame: DataFrame, table: str, key: str = "event_id") -> Outcome:
    """Every `key` value occurs once."""
    dups = frame.groupBy(key).agg(F.count("*").alias("n")).where("n > 1")
    found = dups.orderBy(F.col("n").desc(), key).limit(EXAMPLES).collect()
    total = dups.count() if found else 0
    if not found:
        return _unique(table, key)
    examples = ", ".join(f"{r[key]} x{r.n}" for r in found)
    return Outcome(
        False,
        f"{table}: {total} {key} value(s) occur more than once, e.g. {examples}",
        {"duplicate_keys": total},
    )


def _unique(table: str, key: str) -> Outcome:
    return Outcome(True, f"{table}: every {key} is unique", {"duplicate_keys": 0})


def _no_negative(table: str, column: str) -> Outcome:
    return Outcome(True, f"{table}: no negative {column}", {"negative_rows": 0})


def no_negative(frame: DataFrame, table: str, column: str, key: str = "event_id") -> Outcome:
    """`column` is never below zero (nulls allowed)."""
    bad = frame.where(F.col(column) < 0)
    found = bad.select(key, column).limit(EXAMPLES).collect()
    total = bad.count() if found else 0
    if not found:
        return _no_negative(table, column)
    examples = ", ".join(f"{r[key]}={r[column]}" for r in found)
    return Outcome(
        False, f"{table}: {total} row(s) with negative {column}, e.g. {examples}", {"negative_rows": total}
    )


@dataclass(frozen=True)
class DayRules:
    """The per-row rules of a fact table over the `dt` partitions of a range, in two passes over
    its rows whatever the range's length: rows per day, and the days that break a rule (only those
    are read again, for the examples their outcome names)."""

    rows: dict[date, int]
    unique: dict[date, Outcome]
    non_negative: dict[date, Outcome]


def day_rules(
    frame: DataFrame, table: str, days: Sequence[date], column: str, key: str = "event_id"
) -> DayRules:
    """For each of `days` (rows by `dt`): its row count, `no_duplicate_keys` and `no_negative` of
    `column`, each day's outcome as those rules give it for that day's rows alone."""
    tally = frame.groupBy("dt").agg(
        F.count("*").alias("n"), F.count(F.when(F.col(column) < 0, 1)).alias("negative")
    )
    rows, negative = {}, set()
    for r in tally.collect():
        rows[r.dt] = int(r.n)
        if r.negative:
            negative.add(r.dt)
    duplicated = {
        r.dt for r in frame.groupBy("dt", key).count().where("count > 1").select("dt").distinct().collect()
    }

    def of_day(day: date) -> DataFrame:
        return frame.where(F.col("dt") == F.lit(day))

    return DayRules(
        rows={day: rows.get(day, 0) for day in days},
        unique={
            day: no_duplicate_keys(of_day(day), table, key) if day in duplicated else _unique(table, key)
            for day in days
        },
        non_negative={
            day: no_negative(of_day(day), table, column, key)
            if day in negative
            else _no_negative(table, column)
            for day in days
        },
    )


def schema_matches(actual: StructType, expected: StructType, table: str) -> Outcome:
    """The written columns are exactly the contract's: same names, order and types."""
    got = [(f.name, f.dataType.simpleString()) for f in actual.fields]
    want = [(f.name, f.dataType.simpleString()) for f in expected.fields]
    if got == want:
        return Outcome(True, f"{table}: schema matches the contract ({len(want)} columns)")
    missing = [n for n, _ in want if n not in dict(got)]
    extra = [n for n, _ in got if n not in dict(want)]
    retyped = [f"{n}: {dict(got)[n]} (contract {t})" for n, t in want if n in dict(got) and dict(got)[n] != t]
    problems = [
        f"missing {missing}" if missing else "",
        f"unexpected {extra}" if extra else "",
        f"types differ {retyped}" if retyped else "",
    ]
    detail = "; ".join(p for p in problems if p) or f"column order differs: {[n for n, _ in got]}"
    return Outcome(False, f"{table}: schema differs from the contract: {detail}")


def silver_reconciles(
    bronze_events: int, silver_rows: int, table: str, day: date, invalid: int = 0
) -> Outcome:
    """Silver holds one row per distinct bronze event of the day (minus rows without their keys).

    A day without events (no news published, nobody tracked) reconciles with 0 rows; a partition
    that is empty while bronze holds events for it fails.
    """
    meta = {"bronze_distinct_events": bronze_events, "silver_rows": silver_rows, "invalid_payloads": invalid}
    expected = bronze_events - invalid
    if silver_rows == expected == 0:
        return Outcome(True, f"{table} dt={day}: a quiet day: bronze holds no events for it, 0 rows", meta)
    if silver_rows == expected:
        return Outcome(True, f"{table} dt={day}: {silver_rows} rows = {bronze_events} bronze events", meta)
    if silver_rows == 0:
        return Outcome(
            False,
            f"{table} dt={day}: partition missing or empty, but bronze holds {expected} event(s) for it "
            "(materialise the partition)",
            meta,
        )
    return Outcome(
        False,
        f"{table} dt={day}: {silver_rows} rows but bronze holds {expected} distinct event(s) "
        f"({silver_rows - expected:+d})",
        meta,
    )


def kafka_offsets_reconcile(landed: DataFrame, topic: str) -> Outcome:
    """Bronze + quarantine hold each Kafka offset once and no offset in between is missing.

    `landed` has `kafka_partition` and `kafka_offset` of every bronze and quarantine row. The
    producer is idempotent and non-transactional, so a partition's offsets are contiguous.
    """
    per_part = (
        landed.groupBy("kafka_partition")
        .agg(
            F.count("*").alias("rows"),
            F.countDistinct("kafka_offset").alias("distinct"),
            F.min("kafka_offset").alias("lo"),
            F.max("kafka_offset").alias("hi"),
        )
        .orderBy("kafka_partition")
        .collect()
    )
    problems = []
    meta: dict[str, Any] = {"rows": 0, "partitions": len(per_part)}
    for r in per_part:
        meta["rows"] += int(r.rows)
        span = int(r.hi) - int(r.lo) + 1
        if r.rows != r.distinct:
            problems.append(f"partition {r.kafka_partition}: {r.rows - r.distinct} offset(s) landed twice")
        if span != r.distinct:
            problems.append(
                f"partition {r.kafka_partition}: {span - r.distinct} offset(s) missing in {r.lo}..{r.hi}"
            )
    if problems:
        return Outcome(False, f"{topic}: " + "; ".join(problems), meta)
    return Outcome(True, f"{topic}: {meta['rows']} rows, each Kafka offset exactly once", meta)


def offsets_landed_once(landed: DataFrame, ranges: Mapping[int, Mapping[str, int]], topic: str) -> Outcome:
    """Each offset of `ranges` (partition -> {"from", "to"}: what one landing read) is in `landed`
    (bronze + quarantine rows of the folders that landing wrote) exactly once.

    Rows outside the ranges (earlier landings of the same days) are ignored: together with each
    landing starting where the previous one stopped (`streaming/landed_offsets.py`), this proves
    the whole dataset's "every offset once, none missing" at the cost of one landing.
    """
    if not ranges:
        return Outcome(True, f"{topic}: nothing landed", {"rows": 0, "partitions": 0})
    in_ranges = reduce(
        lambda either, part: (
            either
            | (
                (F.col("kafka_partition") == part)
                & F.col("kafka_offset").between(ranges[part]["from"], ranges[part]["to"] - 1)
            )
        ),
        sorted(ranges),
        F.lit(False),
    )
    found = {
        int(r.kafka_partition): (int(r.rows), int(r.distinct))
        for r in landed.where(in_ranges)
        .groupBy("kafka_partition")
        .agg(F.count("*").alias("rows"), F.countDistinct("kafka_offset").alias("distinct"))
        .collect()
    }
    problems = []
    for part in sorted(ranges):
        span = ranges[part]["to"] - ranges[part]["from"]
        rows, distinct = found.get(part, (0, 0))
        if rows != distinct:
            problems.append(f"partition {part}: {rows - distinct} offset(s) landed twice")
        if distinct != span:
            problems.append(
                f"partition {part}: {span - distinct} of offsets "
                f"{ranges[part]['from']}..{ranges[part]['to'] - 1} missing"
            )
    rows_total = sum(rows for rows, _ in found.values())
    meta = {"rows": rows_total, "partitions": len(ranges)}
    if problems:
        return Outcome(False, f"{topic}: " + "; ".join(problems), meta)
    return Outcome(True, f"{topic}: {rows_total} rows, each offset read exactly once", meta)
