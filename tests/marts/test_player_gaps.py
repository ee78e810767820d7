"""The player-count gap rule of streaming/player_gaps.py on small in-memory silver tables, no servers.

Each test builds a few fact_player_counts rows (typed by the contract) in the test session's one
Spark session and compares the gap rows with values worked out by hand. One Spark action per test.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from lake_frames import collected, columns_and_types, same_rows, table_frame, union_all
from pyspark.sql import DataFrame, SparkSession

from steam_platform.assets.marts.tables import MART_PLAYER_COUNT_GAPS
from steam_platform.assets.warehouse.tables import DIM_APP, FACT_PLAYER_COUNTS
from steam_platform.core.spark_schemas import spark_schema
from streaming.player_gaps import expected_slots, mart_player_count_gaps, mart_player_count_gaps_of_days
from streaming.tables_io import conform

DAY = date(2026, 10, 2)
APP, OTHER_APP, UNTRACKED = 101, 202, 303
START = datetime(2026, 10, 2, tzinfo=UTC)


def snapshot(appid: int, when: datetime, players: int | None = 100) -> dict[str, Any]:
    """A fact_player_counts row taken at `when` (players None: Steam's 'no match')."""
    return {
        "event_id": f"{appid}@{when.isoformat()}",
        "appid": appid,
        "player_count": players,
        "is_live": players is not None,
        "observed_at": when,
        "dt": when.date(),
    }


def every_poll(
    appids: Sequence[int], interval: int, until: datetime, late_s: int = 7
) -> list[dict[str, Any]]:
    """A snapshot of each app in every slot of DAY before `until`, `late_s` seconds into the slot."""
    slots = int((until - START) / timedelta(minutes=interval))
    return [
        snapshot(a, START + timedelta(minutes=interval * n, seconds=late_s))
        for n in range(slots)
        for a in appids
    ]


def gaps(
    spark: SparkSession,
    rows: Sequence[dict[str, Any]],
    tracked: Sequence[int] = (APP, OTHER_APP),
    interval: int = 10,
    as_of: datetime | None = None,
    first_poll: datetime | None = None,
) -> dict[tuple[int, int], dict[str, Any]]:
    """Gap rows of DAY keyed by (appid, hour of day), conformed to the contract as the asset writes them."""
    names = table_frame(
        spark, DIM_APP, [{"appid": APP, "name": "Alpha", "valid_from": START, "is_current": True}]
    )
    built = mart_player_count_gaps(
        table_frame(spark, FACT_PLAYER_COUNTS, rows), names, tracked, DAY, interval, as_of, first_poll
    )
    out = collected(conform(built, spark_schema(MART_PLAYER_COUNT_GAPS)))
    keyed = {(r["appid"], r["hour_start"].hour): r for r in out}
    assert len(keyed) == len(out)
    return keyed


def hhmm(row: dict[str, Any]) -> str:
    return str(row["observed_at"].strftime("%H:%M"))


def shape(row: dict[str, Any]) -> tuple[int, int, int, str]:
    return row["expected_slots"], row["observed_slots"], row["missing_slots"], row["missing_slot_times"]


def test_a_whole_missed_hour_and_one_skipped_app_are_gaps_every_other_slot_is_not(
    spark_session: SparkSession,
) -> None:
    """The platform down 10:00-11:00 (no app polled) and OTHER_APP's request skipped in the 14:20 poll;
    the day is closed, so every one of its 144 slots is expected; a 'no match' answer fills its slot."""
    polls = [
        r
        for r in every_poll([APP, OTHER_APP], 10, START + timedelta(days=1))
        if r["observed_at"].hour != 10 and (r["appid"], hhmm(r)) != (OTHER_APP, "14:20")
    ]
    not_live = (APP, "03:00")  # Steam's 'no match': an answer, not a gap
    polls = [
        snapshot(r["appid"], r["observed_at"], None) if (r["appid"], hhmm(r)) == not_live else r
        for r in polls
    ]
    got = gaps(spark_session, polls)
    assert {k: shape(r) for k, r in got.items()} == {
        (APP, 10): (6, 0, 6, "10:00,10:10,10:20,10:30,10:40,10:50"),
        (OTHER_APP, 10): (6, 0, 6, "10:00,10:10,10:20,10:30,10:40,10:50"),
        (OTHER_APP, 14): (6, 5, 1, "14:20"),
    }
    row = got[(APP, 10)]
    assert (row["app_name"], row["dt"], row["poll_interval_minutes"], row["is_tracked"]) == (
        "Alpha",
        DAY,
        10,
        True,
    )
    assert row["hour_start"] == START + timedelta(hours=10)
    assert got[(OTHER_APP, 14)]["app_name"] is None  # no name known yet


def test_the_day_in_progress_expects_only_closed_slots(spark_session: SparkSession) -> None:
    """At 12:25 the 12:20 slot is still open (its poll may be in flight): slots up to 12:10 are
    expected. 12:10's poll is missing; 12:20's too, but its slot is not closed, so it is no gap."""
    as_of = START + timedelta(hours=12, minutes=25)
    polls = [r for r in every_poll([APP], 10, as_of) if hhmm(r) not in ("12:10", "12:20")]
    got = gaps(spark_session, polls, tracked=[APP], as_of=as_of)
    assert {k: shape(r) for k, r in got.items()} == {(APP, 12): (2, 1, 1, "12:10")}
    assert expected_slots(DAY, 10, as_of) == range(12 * 6 + 2)
    assert expected_slots(DAY, 10, START + timedelta(days=3)) == range(144)  # a closed day: all of it
    assert len(expected_slots(DAY, 10, START - timedelta(minutes=1))) == 0


def test_slots_before_the_platform_first_polled_are_not_gaps(spark_session: SparkSession) -> None:
    """The platform's first poll ran at 22:35:04 (slot 22:30): a tracked app never answered after
    it misses 22:30-23:50, not the 22 hours before anything was scheduled; a first poll on a later
    day leaves this day without expected slots."""
    first = START + timedelta(hours=22, minutes=35, seconds=4)
    got = gaps(spark_session, [], tracked=[OTHER_APP], first_poll=first)
    assert {k: shape(r) for k, r in got.items()} == {
        (OTHER_APP, 22): (3, 0, 3, "22:30,22:40,22:50"),
        (OTHER_APP, 23): (6, 0, 6, "23:00,23:10,23:20,23:30,23:40,23:50"),
    }
    assert expected_slots(DAY, 10, None, first) == range(135, 144)
    assert len(expected_slots(DAY, 10, None, START + timedelta(days=1))) == 0


def test_a_tracked_app_never_polled_all_day_misses_every_slot_and_untracked_apps_are_judged_too(
    spark_session: SparkSession,
) -> None:
    """OTHER_APP is tracked but has no snapshot: 24 rows of 4 missing slots at a 15-minute interval.
    UNTRACKED was polled in the morning only (dropped from the tracked set): its afternoon is a gap."""
    polls = every_poll([APP], 15, START + timedelta(days=1)) + every_poll(
        [UNTRACKED], 15, START + timedelta(hours=23)
    )
    got = gaps(spark_session, polls, interval=15)
    assert {k for k in got if k[0] == OTHER_APP} == {(OTHER_APP, h) for h in range(24)}
    assert {shape(r) for k, r in got.items() if k[0] == OTHER_APP} == {
        (4, 0, 4, f"{h:02d}:00,{h:02d}:15,{h:02d}:30,{h:02d}:45") for h in range(24)
    }
    assert {k: (shape(r), r["is_tracked"]) for k, r in got.items() if k[0] != OTHER_APP} == {
        (UNTRACKED, 23): ((4, 0, 4, "23:00,23:15,23:30,23:45"), False)
    }


def test_a_range_of_days_is_judged_as_each_day_alone(spark_session: SparkSession) -> None:
    """Two days in one plan give each day's rows of a build of that day alone: a closed day with a
    missed hour after the first poll, and a day in progress (closed slots only)."""
    second = START + timedelta(days=1)
    as_of = second + timedelta(hours=5, minutes=25)
    polls = [
        r for r in every_poll([APP, UNTRACKED], 10, START + timedelta(days=1)) if r["observed_at"].hour != 3
    ]
    polls += [snapshot(APP, second + timedelta(minutes=10 * n, seconds=7)) for n in range(20)]
    counts = table_frame(spark_session, FACT_PLAYER_COUNTS, polls)
    names = table_frame(spark_session, DIM_APP, [])
    days = [DAY, DAY + timedelta(days=1)]
    first = START + timedelta(hours=1, minutes=3)

    def of_day(day: date) -> DataFrame:
        return mart_player_count_gaps(counts, names, [APP, OTHER_APP], day, 10, as_of, first)

    ranged = mart_player_count_gaps_of_days(counts, names, [APP, OTHER_APP], days, 10, as_of, first)
    assert same_rows(ranged, union_all([of_day(day) for day in days]))
    assert {r["dt"] for r in collected(ranged)} == set(days)


@pytest.mark.parametrize("interval", [5, 10])
def test_slots_follow_the_poll_interval(spark_session: SparkSession, interval: int) -> None:
    """Polls every 10 minutes judged at a 5-minute interval miss every other slot; at 10 they miss none.
    Snapshots of other days, and two snapshots in one slot, change nothing."""
    polls = every_poll([APP], 10, START + timedelta(hours=2), late_s=30)
    polls += [snapshot(APP, START + timedelta(minutes=1)), snapshot(APP, START - timedelta(minutes=5))]
    got = gaps(spark_session, polls, tracked=[APP], interval=interval, as_of=START + timedelta(hours=2))
    if interval == 10:
        assert got == {}
    else:
        assert {k: shape(r) for k, r in got.items()} == {
            (APP, h): (12, 6, 6, ",".join(f"{h:02d}:{m:02d}" for m in range(5, 60, 10))) for h in (0, 1)
        }


def test_the_rows_match_the_contract_and_a_bad_interval_is_refused(spark_session: SparkSession) -> None:
    """The rule's columns are exactly the contract's, in order; an interval that does not divide an
    hour would split slots across hours and is refused."""
    built = mart_player_count_gaps(
        table_frame(spark_session, FACT_PLAYER_COUNTS, []),
        table_frame(spark_session, DIM_APP, []),
        [APP],
        DAY,
        10,
    )
    assert [c for c, _ in columns_and_types(built)] == list(MART_PLAYER_COUNT_GAPS.column_names)
    with pytest.raises(ValueError, match="must divide an hour"):
        expected_slots(DAY, 7, None)
