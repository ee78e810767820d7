"""A bronze micro-batch's tallies (offsets per Kafka partition, rows, quarantined rows, days), counted
from its parsed rows while they are written: one pass over the batch instead of two.

Spark's `DataFrame.observe` computes aggregates over the rows flowing through a query and hands
them over when the query (here the batch's Parquet write) ends. Observed aggregates take no
grouping, so the per-partition offsets are one conditional min/max/count per Kafka partition the
batch was planned with (`streaming/planned_offsets.py`). The result is checked: the per-partition
counts must add up to every row observed; when they do not (a partition outside the plan) or no
plan is known, `grouped_tally` counts the batch again in a separate pass, as before.

The observation also keeps the parse in one place: Spark pushes a filter through the projection
that parses the envelope and then parses it again for every reference the quarantine rule makes;
an observation between the two is a plan node a filter is not pushed through.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F

from streaming.bronze_stats import BatchStats

#: Above this many Kafka partitions the per-partition aggregates cost more per row than a second pass.
MAX_OBSERVED_PARTITIONS = 64


def _good() -> Column:
    return F.col("reason").isNull()


def tally_columns(partitions: Sequence[int]) -> list[Column]:
    """Aggregates over parsed rows: records, quarantined, days of the good rows, and per partition
    `lo_<p>`, `hi_<p>` (first and last offset) and `n_<p>` (records)."""
    columns = [
        F.count(F.lit(1)).alias("records"),
        F.count("reason").alias("quarantined"),
        F.collect_set(F.when(_good(), F.col("dt"))).alias("days"),
    ]
    for part in partitions:
        mine = F.col("kafka_partition") == part
        offset = F.when(mine, F.col("kafka_offset"))
        columns += [
            F.min(offset).alias(f"lo_{part}"),
            F.max(offset).alias(f"hi_{part}"),
            F.count(offset).alias(f"n_{part}"),
        ]
    return columns


def observe_tally(parsed: DataFrame, partitions: Sequence[int]) -> tuple[DataFrame, Observation]:
    """`parsed` with the tally observed on it (read the observation once the frame was written)."""
    observation = Observation(f"bronze_tally_{uuid.uuid4().hex}")
    return parsed.observe(observation, *tally_columns(partitions)), observation


def stats_from_metrics(metrics: Mapping[str, Any], partitions: Sequence[int]) -> BatchStats | None:
    """The batch's stats from observed `metrics`; None when the partitions' counts miss a row."""
    stats = BatchStats()
    for part in partitions:
        n = int(metrics.get(f"n_{part}") or 0)
        if n:
            stats.offsets[part] = (int(metrics[f"lo_{part}"]), int(metrics[f"hi_{part}"]) + 1, n)
    records = int(metrics["records"])
    if sum(n for _, _, n in stats.offsets.values()) != records:
        return None
    stats.quarantined = int(metrics["quarantined"])
    stats.rows = records - stats.quarantined
    stats.days = {day.isoformat() for day in metrics["days"]}
    return stats


def grouped_tally(parsed: DataFrame) -> BatchStats:
    """The same stats from a pass of their own over `parsed` (grouped by Kafka partition)."""
    rows = (
        parsed.groupBy("kafka_partition")
        .agg(
            F.min("kafka_offset").alias("lo"),
            F.max("kafka_offset").alias("hi"),
            F.count("*").alias("n"),
            F.count("reason").alias("bad"),
            F.collect_set(F.when(_good(), F.col("dt"))).alias("days"),
        )
        .collect()
    )
    stats = BatchStats()
    for r in rows:
        stats.offsets[int(r.kafka_partition)] = (int(r.lo), int(r.hi) + 1, int(r.n))
        stats.quarantined += int(r.bad)
        stats.rows += int(r.n) - int(r.bad)
        stats.days.update(day.isoformat() for day in r.days)
    return stats
