"""Gold rule: the player-count polls that were missed, per app and UTC hour.

A player count is a snapshot of *now*: a poll missed during an outage (Steam answering 5xx for an
hour, Kafka down, the daemon stopped, one app's request failing and skipped) can never be made
later. So the platform records the gap instead of letting a smooth player curve hide it.

What is expected, and why:
- apps: the tracked apps (passed in as data: `streaming/` reads no configuration) together with
  every app that has any snapshot that day (an app dropped from the tracked set mid-day is still
  judged for the hours it should have been polled). A tracked app with no snapshot all day is
  missing every slot of the day.
- slots: the poll slots of the day, every `interval_minutes` from 00:00 UTC (the ingest keys each
  snapshot by its slot the same way, `poll_slot` in `assets/ingest/players.py`). Only closed slots
  are expected: a slot `[s, s + interval)` counts once `s + interval <= as_of`, so the slot whose
  poll may still be in flight is never called a gap. For a closed day every slot is expected.
  Slots before `first_poll` (when the platform first polled, if known) are not expected either:
  nothing was scheduled before the platform ran, so a new deployment's first day is no outage.
- observed: a slot is observed for an app when a snapshot of that app was taken inside the slot
  (`observed_at` rounded down to the interval). A late poll (a run that started after its slot
  ended) measured players at another time, so it fills the slot it was taken in, not the one it was
  scheduled for: the missing slot is still a gap, which is the truth about the curve. A 'no match'
  answer (`is_live` false) is an answer and fills its slot.

Slot arithmetic is done on epoch seconds, so the result does not depend on the Spark session's
time zone. A range of days is judged in one plan (`mart_player_count_gaps_of_days`), each day as
on its own: days are grouping and join keys, never mixed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, LongType, StructField, StructType

SECONDS_PER_HOUR = 3600
SECONDS_PER_DAY = 86_400


def _slot_index(day: date, interval_minutes: int, moment: datetime) -> int:
    """The index of the slot of `day` holding `moment` (negative before the day, >= per day after)."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    return (moment.astimezone(UTC) - start) // timedelta(minutes=interval_minutes)


def expected_slots(
    day: date, interval_minutes: int, as_of: datetime | None, first_poll: datetime | None = None
) -> range:
    """Indexes of the poll slots of `day` that are expected: closed at `as_of` (all of them when
    None) and not before the slot of `first_poll` (none of them earlier when None)."""
    if interval_minutes < 1 or 60 % interval_minutes:
        raise ValueError(f"the poll interval must divide an hour, got {interval_minutes} minutes")
    per_day = 24 * 60 // interval_minutes
    closed = per_day if as_of is None else _slot_index(day, interval_minutes, as_of)
    first = 0 if first_poll is None else _slot_index(day, interval_minutes, first_poll)
    return range(max(0, min(per_day, first)), max(0, min(per_day, closed)))


def _two_digits(column: F.Column) -> F.Column:
    return F.lpad(column.cast("string"), 2, "0")


def _day_start(day: date) -> int:
    return int(datetime.combine(day, time(), tzinfo=UTC).timestamp())


def mart_player_count_gaps(
    counts: DataFrame,
    dim_app: DataFrame,
    tracked_apps: Iterable[int],
    day: date,
    interval_minutes: int,
    as_of: datetime | None = None,
    first_poll: datetime | None = None,
) -> DataFrame:
    """One row per (app, hour of `day`) with at least one expected poll slot that has no snapshot.

    Columns: expected, observed and missing slot counts of the hour, the missing slots as
    `HH:MM` (UTC, comma-separated), whether the app is tracked, and its current name. Hours without
    a missing slot have no row, so an empty result means no poll was missed.
    """
    return mart_player_count_gaps_of_days(
        counts, dim_app, tracked_apps, [day], interval_minutes, as_of, first_poll
    )


def mart_player_count_gaps_of_days(
    counts: DataFrame,
    dim_app: DataFrame,
    tracked_apps: Iterable[int],
    days: Sequence[date],
    interval_minutes: int,
    as_of: datetime | None = None,
    first_poll: datetime | None = None,
) -> DataFrame:
    """`mart_player_count_gaps` of each of `days`, in one plan."""
    spark = counts.sparkSession
    step = interval_minutes * 60
    windows = []  # (day, first expected slot, last expected slot) in epoch seconds
    for day in days:
        slots = expected_slots(day, interval_minutes, as_of, first_poll)
        if len(slots):
            windows.append((day, _day_start(day) + slots.start * step, _day_start(day) + (slots[-1]) * step))
    window_schema = StructType(
        [
            StructField("dt", DateType(), False),
            StructField("first", LongType(), False),
            StructField("last", LongType(), False),
        ]
    )
    expected = spark.createDataFrame(windows, window_schema).select(
        "dt", F.explode(F.sequence("first", "last", F.lit(step).cast("long"))).alias("slot")
    )
    days_frame = spark.createDataFrame(
        [(d,) for d in days], StructType([StructField("dt", DateType(), False)])
    )
    tracked = (
        spark.createDataFrame(
            [(int(a),) for a in dict.fromkeys(tracked_apps)],
            StructType([StructField("appid", LongType(), False)]),
        )
        .crossJoin(days_frame)
        .withColumn("is_tracked", F.lit(True))
    )
    epoch = F.unix_timestamp("observed_at")
    day_start = F.datediff(F.col("dt"), F.lit(date(1970, 1, 1))).cast("long") * SECONDS_PER_DAY
    seen = (
        counts.where(
            F.col("dt").isin(list(days)) & (epoch >= day_start) & (epoch < day_start + SECONDS_PER_DAY)
        )
        .select("appid", "dt", (F.floor(epoch / step) * step).cast("long").alias("slot"))
        .distinct()
        .withColumn("observed", F.lit(True))
    )
    apps = (
        seen.select("appid", "dt")
        .distinct()
        .join(tracked, ["appid", "dt"], "full_outer")
        .select("appid", "dt", F.coalesce("is_tracked", F.lit(False)).alias("is_tracked"))
    )
    judged = (
        apps.join(expected, "dt")
        .join(seen, ["appid", "dt", "slot"], "left")
        .withColumn("hour", (F.floor(F.col("slot") / SECONDS_PER_HOUR) * SECONDS_PER_HOUR).cast("long"))
    )
    of_day = F.col("slot") % SECONDS_PER_DAY
    missing_at = F.when(
        F.col("observed").isNull(),
        F.concat(
            _two_digits(F.floor(of_day / SECONDS_PER_HOUR)),
            F.lit(":"),
            _two_digits(F.floor((F.col("slot") % SECONDS_PER_HOUR) / 60)),
        ),
    )
    per_hour = judged.groupBy("appid", "dt", "is_tracked", "hour").agg(
        F.count("*").cast("int").alias("expected_slots"),
        F.count("observed").cast("int").alias("observed_slots"),
        F.array_sort(F.collect_list(missing_at)).alias("missing_at"),
    )
    names = dim_app.where("is_current").select("appid", F.col("name").alias("app_name"))
    return (
        per_hour.where(F.col("observed_slots") < F.col("expected_slots"))
        .join(names, "appid", "left")
        .select(
            "appid",
            "app_name",
            "dt",
            F.timestamp_seconds("hour").alias("hour_start"),
            F.lit(interval_minutes).alias("poll_interval_minutes"),
            "expected_slots",
            "observed_slots",
            (F.col("expected_slots") - F.col("observed_slots")).alias("missing_slots"),
            F.concat_ws(",", "missing_at").alias("missing_slot_times"),
            "is_tracked",
        )
    )
