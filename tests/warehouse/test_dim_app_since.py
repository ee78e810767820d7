"""`dim_app_since`: the app dimension rebuilt from a day on equals the dimension of all bronze.

A daily `dim_app` run rebuilds the dimension from its first day on, from the dimension it wrote
before, its catalogue ids record, the bronze days since and the event ids of the older days a
re-run ingest partition points at, so its cost follows the days rebuilt, not the lake's age. Its
promise is exactness: for every day it may start from, the rows (and the record) equal a build
from the whole bronze. The histories here hold what makes that hard: names
from the catalogue and the details disagreeing, an unchanged catalogue entry observed again on a
later day (same event_id: it must not count again), a re-run ingest partition observed days later
with a newer answer, a producer retry landing a record twice, details losing a field, an app that
appears only late, and two versions on the boundary's day.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from lake_frames import bronze_frame, collected, table_frame
from lake_support import SRC_CATALOG, SRC_DETAILS, app_message
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from test_warehouse_rules import event_id, observed_again

from steam_platform.assets.warehouse.quality import CHECK_ONE_CURRENT, dim_app_outcomes
from steam_platform.assets.warehouse.tables import DIM_APP
from steam_platform.core.spark_schemas import spark_schema
from steam_platform.resources.kafka import OutgoingMessage
from streaming import warehouse
from streaming.tables_io import conform

TOPIC = "test.dim_app_since"
FIRST_DAY = date(2026, 10, 1)
DAYS = 6


def _when(day: int, minute: int) -> datetime:
    return datetime.combine(FIRST_DAY + timedelta(days=day), datetime.min.time(), UTC) + timedelta(
        minutes=minute
    )


def _details(appid: int, when: datetime, name: str, price: int | None, genres: list[str]) -> OutgoingMessage:
    payload: dict[str, Any] = {
        "name": name,
        "type": "game",
        "is_free": price is None,
        "genres": [{"id": str(i), "description": g} for i, g in enumerate(genres)],
    }
    if price is not None:
        payload["price_overview"] = {"currency": "USD", "final": price}
    return app_message(TOPIC, appid, when, SRC_DETAILS, **payload)


def _history(seed: int) -> list[OutgoingMessage]:
    """Six days of catalogue and details events of four apps, with every case the module names."""
    rng = random.Random(seed)
    events: list[OutgoingMessage] = []
    for appid in (11, 22, 33):
        listed = app_message(TOPIC, appid, _when(0, 5), SRC_CATALOG, name=f"App {appid}")
        events.append(listed)
        for day in range(DAYS):
            if day and rng.random() < 0.7:  # the unchanged catalogue entry, fetched again
                events.append(observed_again(listed, _when(day, 5)))
            if rng.random() < 0.2:
                continue  # no details that day (a store outage)
            name = f"App {appid}" if rng.random() < 0.6 else f"App {appid} Deluxe"
            price = rng.choice([None, 999, 1999])
            genres = rng.sample(["Action", "RPG", "Indie"], rng.randint(0, 2))
            answer = _details(appid, _when(day, 10 + rng.randint(0, 600)), name, price, genres)
            events.append(answer)
            if rng.random() < 0.3:  # a re-run of that day's partition, days later, a newer answer
                later = _when(min(DAYS - 1, day + rng.randint(1, 3)), 700)
                events.append(observed_again(answer, later, name=f"App {appid} Re-run"))
            if rng.random() < 0.2:  # a producer retry: the same record twice
                events.append(answer)
    late = app_message(TOPIC, 44, _when(DAYS - 2, 30), SRC_CATALOG, name="Late app")  # appears late
    events += [late, _details(44, _when(DAYS - 2, 40), "Late app", 500, ["Indie"])]
    rng.shuffle(events)  # landing order is not observation order
    return events


def _dim(frame: DataFrame) -> DataFrame:
    """Rows as the lake stores them (the contract's columns and types)."""
    return conform(frame, spark_schema(DIM_APP))


def _rows(frame: DataFrame) -> list[dict[str, Any]]:
    return sorted(collected(_dim(frame)), key=lambda r: (r["appid"], r["valid_from"]))


def _rebuilt_since(bronze: DataFrame, day: int) -> tuple[list[dict[str, Any]], list[tuple[str, datetime]]]:
    """The dimension and catalogue ids record rebuilt from `day` on, as a daily run composes them:
    the ones built before `day`, that day's bronze on, and only the older days a details re-run
    points at."""
    since = _when(day, 0)
    before = bronze.where(F.col("dt") < F.lit(since.date()))
    after = bronze.where(F.col("dt") >= F.lit(since.date()))
    previous_ids = warehouse.catalogue_first_observations(before)
    lookback = warehouse.details_lookback_day(after, since.date())
    older = before.where(F.col("dt") >= F.lit(lookback or since.date()))
    earlier = warehouse.earlier_event_ids(previous_ids, since, older)
    rows = _rows(warehouse.dim_app_since(_dim(warehouse.dim_app(before)), since, after, earlier))
    return rows, _ids(warehouse.catalogue_ids_since(previous_ids, since, after))


def _ids(frame: DataFrame) -> list[tuple[str, datetime]]:
    return sorted((r["event_id"], r["first_observed_at"]) for r in collected(frame))


def test_rebuilding_from_any_day_equals_the_dimension_of_all_bronze(spark_session: SparkSession) -> None:
    seed = 1  # its history fails a rebuild without the catalogue record or the details lookback
    bronze = bronze_frame(spark_session, _history(seed)).persist()
    whole = _rows(warehouse.dim_app(bronze))
    whole_ids = _ids(warehouse.catalogue_first_observations(bronze))
    assert len({r["appid"] for r in whole}) == 4 and len(whole) > 8, whole
    assert len(whole_ids) == 4  # one catalogue id per app (unchanged entries recur with it)
    for day in range(DAYS):
        rows, ids = _rebuilt_since(bronze, day)
        assert (rows, ids) == (whole, whole_ids), f"rebuilt from {_when(day, 0).date()} (seed {seed})"
    bronze.unpersist()


def test_only_the_days_a_details_rerun_points_at_are_read_for_earlier_ids(
    spark_session: SparkSession,
) -> None:
    """Store details of partition day D have the id (app, D) and are first observed on D or later:
    a re-run of D observed on a later day names D as the oldest day to look at; a day's own details
    name none; details whose partition is not a day name every older day."""
    first = _details(11, _when(1, 10), "Alpha", 999, [])
    rerun = observed_again(first, _when(4, 700), name="Alpha Re-run")
    today = _details(11, _when(4, 10), "Alpha", 999, [])
    day4 = FIRST_DAY + timedelta(days=4)
    lookback = warehouse.details_lookback_day
    assert lookback(bronze_frame(spark_session, [today]), day4) is None
    assert lookback(bronze_frame(spark_session, [today, rerun]), day4) == FIRST_DAY + timedelta(days=1)
    undated = json.loads(today.value) | {"partition_key": "all"}
    odd = replace(today, value=json.dumps(undated).encode())
    assert lookback(bronze_frame(spark_session, [odd]), day4) == date.min


def test_an_event_first_observed_before_the_day_does_not_count_again(spark_session: SparkSession) -> None:
    """The catalogue's unchanged entry, fetched again after the details renamed the app, is the same
    event: rebuilt from the day of the fetch, the details' name stays current (as in `dim_app`),
    because the catalogue ids record knows it."""
    listed = app_message(TOPIC, 11, _when(0, 5), SRC_CATALOG, name="Old name")
    renamed = _details(11, _when(1, 10), "New name", 999, ["Action"])
    relisted = observed_again(listed, _when(2, 5))
    bronze = bronze_frame(spark_session, [listed, renamed, relisted])
    rows, ids = _rebuilt_since(bronze, 2)
    assert [(r["name"], r["price_cents"], r["is_current"]) for r in rows] == [
        ("Old name", None, False),
        ("New name", 999, True),
    ]
    assert ids == [(event_id(listed), _when(0, 5))]
    # Without the record, the fetch would count as a rename back.
    since = _when(2, 0)
    before = bronze.where(F.col("dt") < F.lit(since.date()))
    after = bronze.where(F.col("dt") >= F.lit(since.date()))
    no_history = spark_session.createDataFrame([], "event_id string")
    naive = _rows(warehouse.dim_app_since(_dim(warehouse.dim_app(before)), since, after, no_history))
    assert [r["name"] for r in naive] == ["Old name", "New name", "Old name"]


def test_the_blocking_check_fails_on_a_missing_an_unexpected_or_a_doubled_current_version(
    spark_session: SparkSession, tmp_path: Path
) -> None:
    """The check compares the apps the run must cover with the current versions written, as sets:
    each kind of mismatch fails it and is counted in its message."""
    root = f"file://{tmp_path}"
    t0, t1 = _when(0, 0), _when(1, 0)
    version = {"name": "A", "valid_to": None, "is_current": True}
    cases = {
        "exact": ([11, 22], [{"appid": 11, "valid_from": t0}, {"appid": 22, "valid_from": t0}], True),
        "missing": ([11, 22], [{"appid": 11, "valid_from": t0}], False),
        "unexpected": ([11], [{"appid": 11, "valid_from": t0}, {"appid": 33, "valid_from": t0}], False),
        "doubled": ([11], [{"appid": 11, "valid_from": t0}, {"appid": 11, "valid_from": t1}], False),
    }
    messages = {}
    for case, (apps, rows, passes) in cases.items():
        table_frame(spark_session, DIM_APP, [version | r for r in rows]).write.mode("overwrite").parquet(
            DIM_APP.path(root)
        )
        expected = spark_session.createDataFrame([(a,) for a in apps], "appid long")
        outcome = dim_app_outcomes(spark_session, root, expected)[CHECK_ONE_CURRENT]
        assert outcome.passed is passes, (case, outcome.message)
        messages[case] = outcome.message
    assert "2 current versions for 2 apps seen in bronze (0 without one, 0 not seen" in messages["exact"]
    assert "(1 without one, 0 not seen in bronze)" in messages["missing"]
    assert "(0 without one, 1 not seen in bronze)" in messages["unexpected"]
    assert "2 current versions for 1 apps" in messages["doubled"] and "x2" in messages["doubled"]
