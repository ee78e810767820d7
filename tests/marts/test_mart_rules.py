"""The mart (gold) rules of streaming/marts.py on small in-memory silver tables, no servers.

Each test builds a few rows of fact_player_counts, fact_news, dim_app or mart_game_daily, typed by
their contracts, in the test session's one Spark session (`spark_session`), and compares the mart
rows with values worked out by hand. The end-to-end tests (tests/lake/test_lake_pipeline.py,
test_quiet_data.py) check the same rules through Kafka, bronze, silver and S3, slowly; each test
here names the rule it pins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import lake_dataset as ds
import pytest
from lake_frames import by, collected, columns_and_types, same_rows, table_frame, union_all
from lake_support import at
from pyspark.sql import DataFrame, SparkSession

from steam_platform.assets.marts.tables import MART_GAME_DAILY, MART_NEWS_IMPACT, MART_TOP_GAMES
from steam_platform.assets.warehouse.tables import DIM_APP, FACT_NEWS, FACT_PLAYER_COUNTS
from steam_platform.core.contracts import Table
from streaming import marts

DAY = date(2026, 10, 2)
PREVIOUS, NEXT = DAY - timedelta(days=1), DAY + timedelta(days=1)
APP, OTHER_APP, THIRD_APP, FOURTH_APP = 101, 202, 303, 404
WINDOW_HOURS = 6


def moment(when: str | datetime) -> datetime:
    """`2026-10-02T12:00` (UTC) or an aware datetime -> aware datetime."""
    return at(when) if isinstance(when, str) else when


def count_row(appid: int, when: str | datetime, players: int | None) -> dict[str, Any]:
    """A fact_player_counts row: a poll at `when` (UTC); players None is Steam's 'no match'."""
    observed = moment(when)
    return {
        "event_id": f"{appid}@{observed.isoformat()}",
        "appid": appid,
        "player_count": players,
        "is_live": players is not None,
        "observed_at": observed,
        "dt": observed.date(),
    }


def news_row(gid: str, appid: int, published: str | datetime) -> dict[str, Any]:
    """A fact_news row: a post of `appid` published at `published` (UTC)."""
    at_ = moment(published)
    return {
        "event_id": f"news-{gid}",
        "gid": gid,
        "appid": appid,
        "title": f"Post {gid}",
        "url": f"https://store.example/news/{gid}",
        "published_at": at_,
        "dt": at_.date(),
    }


def app_row(appid: int, name: str, valid_from: str, valid_to: str | None = None) -> dict[str, Any]:
    """A dim_app version; the current one when it has no `valid_to`."""
    return {
        "appid": appid,
        "name": name,
        "valid_from": at(valid_from),
        "valid_to": at(valid_to) if valid_to else None,
        "is_current": valid_to is None,
    }


def daily_row(appid: int, day: date, peak: int | None, name: str | None = None) -> dict[str, Any]:
    """A mart_game_daily row with a peak (None: no live sample that day); avg is peak / 2."""
    return {
        "appid": appid,
        "app_name": name,
        "dt": day,
        "peak_players": peak,
        "avg_players": None if peak is None else peak / 2,
        "min_players": None if peak is None else peak // 4,
        "samples": 0 if peak is None else 3,
        "news_posts": 0,
    }


def counts(spark: SparkSession, rows: Sequence[dict[str, Any]]) -> DataFrame:
    return table_frame(spark, FACT_PLAYER_COUNTS, rows)


def news(spark: SparkSession, rows: Sequence[dict[str, Any]]) -> DataFrame:
    return table_frame(spark, FACT_NEWS, rows)


def apps(spark: SparkSession, rows: Sequence[dict[str, Any]] = ()) -> DataFrame:
    return table_frame(spark, DIM_APP, rows)


def game_daily(
    spark: SparkSession,
    polls: Sequence[dict[str, Any]],
    posts: Sequence[dict[str, Any]] = (),
    versions: Sequence[dict[str, Any]] = (),
) -> dict[int, dict[str, Any]]:
    """mart_game_daily rows of DAY by appid, from the given silver rows."""
    built = marts.mart_game_daily(counts(spark, polls), news(spark, posts), apps(spark, versions), DAY)
    return by(collected(built), "appid")


def news_impact(
    spark: SparkSession,
    posts: Sequence[dict[str, Any]],
    polls: Sequence[dict[str, Any]],
    versions: Sequence[dict[str, Any]] = (),
    window_hours: int = WINDOW_HOURS,
) -> dict[str, dict[str, Any]]:
    """mart_news_impact rows of DAY by gid, from the given silver rows."""
    built = marts.mart_news_impact(
        news(spark, posts), counts(spark, polls), apps(spark, versions), DAY, window_hours
    )
    return by(collected(built), "gid")


def top_games(spark: SparkSession, daily: Sequence[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """mart_top_games rows of DAY (previous day PREVIOUS) by appid, from mart_game_daily rows."""
    built = marts.mart_top_games(table_frame(spark, MART_GAME_DAILY, daily), DAY, PREVIOUS)
    return by(collected(built), "appid")


def stats(row: dict[str, Any]) -> tuple[Any, ...]:
    """(peak, avg, min, samples, news_posts) of a mart_game_daily row."""
    return (row["peak_players"], row["avg_players"], row["min_players"], row["samples"], row["news_posts"])


def windows(row: dict[str, Any]) -> tuple[Any, ...]:
    """(samples_before, samples_after, before avg, after avg, change_abs, change_pct) of an impact row."""
    return (
        row["samples_before"],
        row["samples_after"],
        row["players_before_avg"],
        row["players_after_avg"],
        row["change_abs"],
        row["change_pct"],
    )


# mart_game_daily


def test_game_daily_has_peak_average_minimum_and_live_samples_per_app(spark_session: SparkSession) -> None:
    """Per app and day: peak, mean and minimum of the day's live samples and how many there were;
    a 'no match' poll is no sample, and polls of other days do not count."""
    polls = [
        count_row(APP, "2026-10-02T08:00", 100),
        count_row(APP, "2026-10-02T12:00", 300),
        count_row(APP, "2026-10-02T16:00", 200),
        count_row(APP, "2026-10-02T20:00", None),
        count_row(APP, "2026-10-01T23:59", 9999),
        count_row(APP, "2026-10-03T00:00", 1),
        count_row(OTHER_APP, "2026-10-02T00:00", 50),
    ]
    daily = game_daily(spark_session, polls)
    assert {a: stats(r) for a, r in daily.items()} == {
        APP: (300, 200.0, 100, 3, 0),
        OTHER_APP: (50, 50.0, 50, 1, 0),
    }
    assert {r["dt"] for r in daily.values()} == {DAY}


def test_an_app_polled_only_while_not_live_has_zero_samples_and_no_stats(spark_session: SparkSession) -> None:
    """An unreleased app answers 'no match' all day: it is in the mart with 0 samples and null
    peak/avg/min (there is nothing to rank it by)."""
    polls = [count_row(APP, "2026-10-02T08:00", None), count_row(APP, "2026-10-02T11:00", None)]
    assert {a: stats(r) for a, r in game_daily(spark_session, polls).items()} == {
        APP: (None, None, None, 0, 0)
    }


def test_game_daily_counts_the_day_s_news_posts_and_news_alone_puts_an_app_in(
    spark_session: SparkSession,
) -> None:
    """news_posts counts an app's posts published that day; an app with posts but no poll is in
    the mart with 0 samples, an app with polls but no post has 0 posts."""
    polls = [count_row(APP, "2026-10-02T08:00", 10), count_row(OTHER_APP, "2026-10-02T08:00", 20)]
    posts = [
        news_row("1", APP, "2026-10-02T00:00"),
        news_row("2", APP, "2026-10-02T23:59"),
        news_row("3", APP, "2026-10-01T12:00"),
        news_row("4", THIRD_APP, "2026-10-02T12:00"),
    ]
    assert {a: stats(r) for a, r in game_daily(spark_session, polls, posts).items()} == {
        APP: (10, 10.0, 10, 1, 2),
        OTHER_APP: (20, 20.0, 20, 1, 0),
        THIRD_APP: (None, None, None, 0, 1),
    }


def test_game_daily_names_apps_by_their_current_dim_app_version(spark_session: SparkSession) -> None:
    """app_name is the name of the app's current dim_app version (an old name never shows); an app
    dim_app does not know (its store details missing) has a null name."""
    polls = [count_row(APP, "2026-10-02T08:00", 10), count_row(OTHER_APP, "2026-10-02T08:00", 20)]
    versions = [
        app_row(APP, "Alpha", "2026-10-01T00:05", "2026-10-02T00:05"),
        app_row(APP, "Alpha Remastered", "2026-10-02T00:05"),
        app_row(THIRD_APP, "Not polled", "2026-10-01T00:05"),
    ]
    daily = game_daily(spark_session, polls, versions=versions)
    assert {a: r["app_name"] for a, r in daily.items()} == {APP: "Alpha Remastered", OTHER_APP: None}


# mart_news_impact


def test_news_impact_compares_mean_players_before_and_after_a_post(spark_session: SparkSession) -> None:
    """Before = [published - w, published), after = [published, published + w): each window's mean
    of the app's live samples, their counts, the absolute and the relative change in percent.
    Other apps' samples and 'no match' polls are not samples."""
    post = news_row("1", APP, "2026-10-02T12:00")
    polls = [
        count_row(APP, "2026-10-02T05:59", 9999),  # before the before-window
        count_row(APP, "2026-10-02T06:00", 100),  # before (its start is included)
        count_row(APP, "2026-10-02T11:59", 200),  # before
        count_row(APP, "2026-10-02T12:00", 400),  # after (the publication instant is included)
        count_row(APP, "2026-10-02T13:00", None),  # 'no match': no sample
        count_row(APP, "2026-10-02T17:59", 500),  # after
        count_row(APP, "2026-10-02T18:00", 9999),  # after the after-window (its end is excluded)
        count_row(OTHER_APP, "2026-10-02T12:30", 9999),  # another app
    ]
    versions = [app_row(APP, "Alpha", "2026-10-01T00:05")]
    row = news_impact(spark_session, [post], polls, versions)["1"]
    assert windows(row) == (2, 2, 150.0, 450.0, 300.0, 200.0)
    described = ("gid", "appid", "app_name", "title", "url", "published_at", "dt", "window_hours")
    assert {k: row[k] for k in described} == {
        "gid": "1",
        "appid": APP,
        "app_name": "Alpha",
        "title": "Post 1",
        "url": "https://store.example/news/1",
        "published_at": at("2026-10-02T12:00"),
        "dt": DAY,
        "window_hours": WINDOW_HOURS,
    }


def test_news_impact_windows_cross_midnight(spark_session: SparkSession) -> None:
    """A post at 23:00 is measured on the next day's samples up to 05:00, a post at 02:00 on the
    previous day's from 20:00: the windows reach into the neighbouring days' player counts."""
    posts = [news_row("late", APP, "2026-10-02T23:00"), news_row("early", OTHER_APP, "2026-10-02T02:00")]
    polls = [
        count_row(APP, "2026-10-02T16:59", 9999),
        count_row(APP, "2026-10-02T17:00", 100),
        count_row(APP, "2026-10-02T22:00", 300),
        count_row(APP, "2026-10-03T00:30", 600),
        count_row(APP, "2026-10-03T04:59", 800),
        count_row(APP, "2026-10-03T05:00", 9999),
        count_row(OTHER_APP, "2026-10-01T19:59", 9999),
        count_row(OTHER_APP, "2026-10-01T20:00", 40),
        count_row(OTHER_APP, "2026-10-02T01:00", 60),
        count_row(OTHER_APP, "2026-10-02T03:00", 100),
        count_row(OTHER_APP, "2026-10-02T07:59", 200),
        count_row(OTHER_APP, "2026-10-02T08:00", 9999),
    ]
    rows = news_impact(spark_session, posts, polls)
    assert windows(rows["late"]) == (2, 2, 200.0, 700.0, 500.0, 250.0)
    assert windows(rows["early"]) == (2, 2, 50.0, 150.0, 100.0, 200.0)


def test_news_impact_change_is_null_without_a_before_mean_and_the_percentage_when_it_is_zero(
    spark_session: SparkSession,
) -> None:
    """No sample before a post: no before mean, so no change; a before mean of 0 players gives an
    absolute change but no percentage; a post without any sample is kept with 0 samples."""
    posts = [
        news_row("no-before", APP, "2026-10-02T12:00"),
        news_row("zero-before", OTHER_APP, "2026-10-02T12:00"),
        news_row("no-samples", THIRD_APP, "2026-10-02T12:00"),
    ]
    polls = [
        count_row(APP, "2026-10-02T13:00", 100),
        count_row(OTHER_APP, "2026-10-02T11:00", 0),
        count_row(OTHER_APP, "2026-10-02T13:00", 50),
    ]
    assert {gid: windows(r) for gid, r in news_impact(spark_session, posts, polls).items()} == {
        "no-before": (0, 1, None, 100.0, None, None),
        "zero-before": (1, 1, 0.0, 50.0, 50.0, None),
        "no-samples": (0, 0, None, None, None, None),
    }


def test_news_impact_measures_only_the_posts_published_on_the_day(spark_session: SparkSession) -> None:
    """A partition holds the posts of its publication day (fact_news rows of other days are not
    measured again); the window width is reported with each row."""
    posts = [
        news_row("yesterday", APP, "2026-10-01T23:00"),
        news_row("today", APP, "2026-10-02T00:00"),
        news_row("tomorrow", APP, "2026-10-03T00:00"),
    ]
    polls = [count_row(APP, "2026-10-02T00:30", 10)]
    rows = news_impact(spark_session, posts, polls, window_hours=24)
    assert {gid: (r["dt"], r["window_hours"], r["samples_after"]) for gid, r in rows.items()} == {
        "today": (DAY, 24, 1)
    }


@pytest.mark.parametrize("hours", [0, -1, 25])
def test_news_impact_window_must_be_1_to_24_hours(spark_session: SparkSession, hours: int) -> None:
    """Windows of 1..24 h reach at most into the neighbouring days, the only counts the asset reads."""
    with pytest.raises(ValueError, match=r"window_hours must be in 1\.\.24"):
        marts.mart_news_impact(
            news(spark_session, []), counts(spark_session, []), apps(spark_session), DAY, hours
        )


# mart_top_games


def test_top_games_rank_apps_by_peak_players_with_ties_to_the_lower_appid(
    spark_session: SparkSession,
) -> None:
    """Rank 1 is the highest peak; equal peaks rank the lower appid first (a stable order); an app
    without a live sample that day (null peak) is not ranked; other days are not ranked."""
    daily = [
        daily_row(THIRD_APP, DAY, 500, "Third"),
        daily_row(OTHER_APP, DAY, 800, "Other"),
        daily_row(APP, DAY, 500, "App"),
        daily_row(FOURTH_APP, DAY, None, "Unreleased"),
        daily_row(FOURTH_APP, NEXT, 99999),
    ]
    rows = top_games(spark_session, daily)
    assert {a: (r["rank"], r["app_name"], r["peak_players"], r["avg_players"]) for a, r in rows.items()} == {
        OTHER_APP: (1, "Other", 800, 400.0),
        APP: (2, "App", 500, 250.0),
        THIRD_APP: (3, "Third", 500, 250.0),
    }
    assert {(r["dt"], r["prev_rank"], r["rank_change"]) for r in rows.values()} == {(DAY, None, None)}


def test_rank_change_is_the_previous_day_s_rank_minus_today_s(spark_session: SparkSession) -> None:
    """prev_rank is the app's rank the day before (null when it was not ranked: new, or no live
    sample); rank_change = prev_rank - rank, positive when the app climbed."""
    daily = [
        daily_row(APP, PREVIOUS, 900),
        daily_row(OTHER_APP, PREVIOUS, 800),
        daily_row(THIRD_APP, PREVIOUS, 100),
        daily_row(FOURTH_APP, PREVIOUS, None),
        daily_row(OTHER_APP, DAY, 1000),
        daily_row(APP, DAY, 900),
        daily_row(FOURTH_APP, DAY, 50),
        daily_row(505, DAY, 10),
        daily_row(505, PREVIOUS - timedelta(days=1), 1_000_000),  # two days ago: not the previous day
    ]
    rows = top_games(spark_session, daily)
    assert {a: (r["rank"], r["prev_rank"], r["rank_change"]) for a, r in rows.items()} == {
        OTHER_APP: (1, 2, 1),
        APP: (2, 1, -1),
        FOURTH_APP: (3, None, None),
        505: (4, None, None),
    }


def test_a_day_without_live_samples_has_an_empty_ranking(spark_session: SparkSession) -> None:
    """Every app 'no match' all day (mart_game_daily rows with null peaks): nothing is ranked."""
    daily = [daily_row(APP, DAY, None), daily_row(OTHER_APP, DAY, None), daily_row(APP, PREVIOUS, 10)]
    assert top_games(spark_session, daily) == {}


# Empty inputs

MARTS: dict[str, tuple[Table, Callable[[SparkSession], DataFrame]]] = {
    "mart_game_daily": (
        MART_GAME_DAILY,
        lambda s: marts.mart_game_daily(counts(s, []), news(s, []), apps(s), DAY),
    ),
    "mart_news_impact": (
        MART_NEWS_IMPACT,
        lambda s: marts.mart_news_impact(news(s, []), counts(s, []), apps(s), DAY, WINDOW_HOURS),
    ),
    "mart_top_games": (
        MART_TOP_GAMES,
        lambda s: marts.mart_top_games(table_frame(s, MART_GAME_DAILY, []), DAY, PREVIOUS),
    ),
}


@pytest.mark.parametrize("name", MARTS)
def test_empty_inputs_build_an_empty_mart_with_the_contract_columns(
    spark_session: SparkSession, name: str
) -> None:
    """A fresh deployment or a quiet day (no counts, no news, no apps) builds every mart empty, and
    the transform itself yields the contract's columns and types: `conform` has nothing to cast."""
    table, build = MARTS[name]
    rows = build(spark_session)
    assert columns_and_types(rows) == columns_and_types(table)
    assert rows.isEmpty()


# The three-day dataset of the end-to-end pipeline test (tests/lake_dataset.py), in memory


@dataclass(frozen=True)
class Silver:
    """The dataset's silver tables as the warehouse holds them after the pipeline's build."""

    counts: DataFrame
    news: DataFrame
    dim_app: DataFrame


@pytest.fixture(scope="module")
def dataset(spark_session: SparkSession) -> Silver:
    """fact_player_counts, fact_news and dim_app of the dataset, from its plain Python lists."""
    versions = [
        app_row(ds.ALPHA, "Alpha", "2026-10-01T00:05", "2026-10-02T00:05"),
        *(app_row(a, ds.NAMES[a], "2026-10-02T00:05") for a in ds.APPS),
    ]
    return Silver(
        counts(spark_session, [count_row(s.appid, s.at, s.count) for s in ds.samples()]),
        news(spark_session, [news_row(p.gid, p.appid, p.published) for p in ds.posts()]),
        apps(spark_session, versions),
    )


def every_day(
    build: Callable[[date], DataFrame], of_days: Callable[[Sequence[date]], DataFrame] | None = None
) -> list[dict[str, Any]]:
    """The rows `build` makes for each of the dataset's days, collected at once; with `of_days` (the
    rule's range form), first checked to be exactly the rows its one plan builds for the days."""
    each = union_all([build(day) for day in ds.DAYS])
    if of_days is not None:
        assert same_rows(of_days(ds.DAYS), each)
    return collected(each)


def test_the_pipeline_dataset_game_daily_matches_plain_python(dataset: Silver) -> None:
    """The pipeline's three days through mart_game_daily equal lake_dataset.expected_game_daily:
    stats over live samples (23:30 and 00:30 samples on their own days), posts, current names."""
    daily = every_day(
        lambda day: marts.mart_game_daily(dataset.counts, dataset.news, dataset.dim_app, day),
        lambda days: marts.mart_game_daily_of_days(dataset.counts, dataset.news, dataset.dim_app, days),
    )
    for day in ds.DAYS:
        got = by([r for r in daily if r["dt"] == day], "appid")
        want = ds.expected_game_daily(day)
        assert set(got) == set(want)
        for appid, expected in want.items():
            assert {k: got[appid][k] for k in expected} == pytest.approx(expected), (day, appid)


def test_the_pipeline_dataset_news_impact_matches_plain_python(dataset: Silver) -> None:
    """The pipeline's posts through mart_news_impact equal lake_dataset.expected_news_impact,
    including the 23:00 and 02:00 posts whose windows reach into the neighbouring day."""
    impact = by(
        every_day(
            lambda day: marts.mart_news_impact(
                dataset.news, dataset.counts, dataset.dim_app, day, ds.WINDOW_HOURS
            ),
            lambda days: marts.mart_news_impact_of_days(
                dataset.news, dataset.counts, dataset.dim_app, days, ds.WINDOW_HOURS
            ),
        ),
        "gid",
    )
    want = {gid: row for day in ds.DAYS for gid, row in ds.expected_news_impact(day).items()}
    assert set(impact) == set(want)
    assert want["9100000000000000001"]["samples_after"] == 4  # 23:30, then 00:00, 00:30, 03:00 next day
    assert want["9100000000000000002"]["samples_before"] == 4  # 21:00, 23:30 the day before; 00:00, 00:30
    for gid, expected in want.items():
        assert impact[gid]["window_hours"] == ds.WINDOW_HOURS
        assert {k: impact[gid][k] for k in expected} == pytest.approx(expected), gid


def test_the_pipeline_dataset_top_games_match_plain_python(spark_session: SparkSession) -> None:
    """lake_dataset.expected_game_daily's rows through mart_top_games give expected_ranks each day,
    with the previous day's rank and the change (none on the first day) and the current names."""
    daily = [
        {"appid": appid, "dt": day, **row, "avg_players": float(row["avg_players"])}
        for day in ds.DAYS
        for appid, row in ds.expected_game_daily(day).items()
    ]
    frame = table_frame(spark_session, MART_GAME_DAILY, daily)
    tops = every_day(
        lambda day: marts.mart_top_games(frame, day, day - timedelta(days=1)),
        lambda days: marts.mart_top_games_of_days(frame, days),
    )
    for previous, day in zip((None, *ds.DAYS), ds.DAYS, strict=False):
        ranks, before = ds.expected_ranks(day), ds.expected_ranks(previous) if previous else {}
        got = by([r for r in tops if r["dt"] == day], "appid")
        assert {a: r["rank"] for a, r in got.items()} == ranks
        assert {a: r["prev_rank"] for a, r in got.items()} == {a: before.get(a) for a in ranks}
        assert {a: r["rank_change"] for a, r in got.items()} == {
            a: (before[a] - ranks[a]) if a in before else None for a in ranks
        }
        assert all(r["app_name"] == ds.NAMES[a] for a, r in got.items())
