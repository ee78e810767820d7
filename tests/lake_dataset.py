"""A small hand-built Steam dataset over three days, and the marts computed from it in plain Python.

The expected values never touch Spark: they come from the same Python lists that are produced to
Kafka, so the lake pipeline (bronze -> silver -> marts) is checked against an independent answer.
Apps use ids no simulator produces, so tests sharing the platform's topics don't interfere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import mean

from lake_support import (
    SRC_CATALOG,
    SRC_DETAILS,
    app_message,
    at,
    news_message,
    player_count_message,
    playtime_message,
)

from steam_platform.core import sources
from steam_platform.resources.kafka import OutgoingMessage

ALPHA, BETA, GAMMA = 9_000_001, 9_000_002, 9_000_003
APPS = (ALPHA, BETA, GAMMA)
DAYS = (date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3))
WINDOW_HOURS = 6
NAMES = {ALPHA: "Alpha Remastered", BETA: "Beta", GAMMA: "Gamma"}  # current names


@dataclass(frozen=True)
class Sample:
    appid: int
    at: datetime
    count: int | None


@dataclass(frozen=True)
class Post:
    gid: str
    appid: int
    published: datetime
    observed: datetime


def _count(appid: int, moment: datetime) -> int:
    base = {ALPHA: 1000, BETA: 1500, GAMMA: 300}[appid]
    return base + (moment.hour * 37 + moment.day * 101 + appid % 7 * 13) % 500


def samples() -> list[Sample]:
    """Samples every 3 hours plus 23:30 and 00:30, per app and day; Gamma 'no match' once."""
    out = []
    for day in DAYS:
        start = datetime(day.year, day.month, day.day, tzinfo=at("2026-10-01T00:00").tzinfo)
        moments = [start + timedelta(hours=h) for h in range(0, 24, 3)]
        moments += [start + timedelta(minutes=30), start + timedelta(hours=23, minutes=30)]
        for appid in APPS:
            for moment in moments:
                out.append(Sample(appid, moment, _count(appid, moment)))
    out.append(Sample(GAMMA, at("2026-10-02T10:10"), None))
    return out


def posts() -> list[Post]:
    """Posts near midnight (windows reach into the neighbouring day) and one observed days later."""
    return [
        Post("9100000000000000001", ALPHA, at("2026-10-01T23:00"), at("2026-10-01T23:40")),
        Post("9100000000000000002", BETA, at("2026-10-02T02:00"), at("2026-10-02T03:00")),
        Post("9100000000000000003", ALPHA, at("2026-10-02T12:00"), at("2026-10-03T08:00")),
        Post("9100000000000000004", GAMMA, at("2026-10-03T20:15"), at("2026-10-03T21:00")),
    ]


def messages() -> list[OutgoingMessage]:
    """Everything to produce, with duplicates as a producer retry / re-observation would make them."""
    counts = [player_count_message(sources.PLAYER_COUNTS.topic, s.appid, s.at, s.count) for s in samples()]
    news = [
        news_message(
            sources.NEWS.topic,
            p.appid,
            p.gid,
            p.published,
            p.observed,
            contents="[b]Big[/b] patch &amp; fixes",
        )
        for p in posts()
    ]
    news.append(news[2])  # the same post seen again: same event_id
    apps = [
        app_message(sources.APPS.topic, ALPHA, at("2026-10-01T00:05"), SRC_CATALOG, name="Alpha"),
        app_message(
            sources.APPS.topic,
            ALPHA,
            at("2026-10-01T00:10"),
            SRC_DETAILS,
            name="Alpha",
            type="game",
            is_free=False,
            developers=["Studio A"],
            publishers=["Pub A", "Pub B"],
            genres=[{"id": "1", "description": "Action"}, {"id": "2", "description": "RPG"}],
            release_date={"coming_soon": False, "date": "1 Jan, 2020"},
            price_overview={"currency": "USD", "initial": 1999, "final": 999},
        ),
        app_message(sources.APPS.topic, ALPHA, at("2026-10-02T00:05"), SRC_CATALOG, name="Alpha Remastered"),
        app_message(sources.APPS.topic, ALPHA, at("2026-10-03T00:05"), SRC_CATALOG, name="Alpha Remastered"),
        app_message(
            sources.APPS.topic,
            BETA,
            at("2026-10-01T00:05"),
            SRC_DETAILS,
            name="Beta",
            type="game",
            is_free=True,
        ),
        app_message(sources.APPS.topic, GAMMA, at("2026-10-01T00:05"), SRC_CATALOG, name="Gamma"),
    ]
    playtime = [
        playtime_message(
            sources.PLAYTIME.topic, "76561190000000001", ALPHA, at(f"2026-10-0{d}T12:00"), 100 * d
        )
        for d in (1, 2, 3)
    ]
    return [*counts, counts[5], *news, *apps, *playtime]  # counts[5] twice: a producer retry


def expected_game_daily(day: date) -> dict[int, dict[str, object]]:
    """mart_game_daily rows of `day` for the dataset's apps."""
    out: dict[int, dict[str, object]] = {}
    for appid in APPS:
        values = [
            s.count for s in samples() if s.appid == appid and s.at.date() == day and s.count is not None
        ]
        news_posts = sum(1 for p in posts() if p.appid == appid and p.published.date() == day)
        out[appid] = {
            "app_name": NAMES[appid],
            "peak_players": max(values),
            "avg_players": mean(values),
            "min_players": min(values),
            "samples": len(values),
            "news_posts": news_posts,
        }
    return out


def expected_gaps(day: date, interval_minutes: int) -> dict[tuple[int, datetime], tuple[int, int, str]]:
    """mart_player_count_gaps of the closed `day` for the dataset's apps: (appid, hour_start) ->
    (expected, observed, missing slot times). Sampled every 3 hours, most hours miss every slot."""
    out: dict[tuple[int, datetime], tuple[int, int, str]] = {}
    per_hour = 60 // interval_minutes
    start = datetime(day.year, day.month, day.day, tzinfo=at("2026-10-01T00:00").tzinfo)
    for appid in APPS:
        taken = {
            (s.at.hour, s.at.minute // interval_minutes * interval_minutes)
            for s in samples()
            if s.appid == appid and s.at.date() == day
        }
        for hour in range(24):
            missing = [m for m in range(0, 60, interval_minutes) if (hour, m) not in taken]
            if missing:
                times = ",".join(f"{hour:02d}:{m:02d}" for m in missing)
                out[(appid, start + timedelta(hours=hour))] = (per_hour, per_hour - len(missing), times)
    return out


def expected_ranks(day: date) -> dict[int, int]:
    """appid -> rank by peak (ties: lower appid first)."""
    daily = expected_game_daily(day)
    order = sorted(APPS, key=lambda a: (-int(daily[a]["peak_players"]), a))  # type: ignore[call-overload]
    return {appid: i + 1 for i, appid in enumerate(order)}


def expected_news_impact(day: date) -> dict[str, dict[str, object]]:
    """mart_news_impact rows of posts published on `day`, keyed by gid."""
    width = timedelta(hours=WINDOW_HOURS)
    out: dict[str, dict[str, object]] = {}
    for p in posts():
        if p.published.date() != day:
            continue
        live = [s for s in samples() if s.appid == p.appid and s.count is not None]
        before = [s.count for s in live if p.published - width <= s.at < p.published]
        after = [s.count for s in live if p.published <= s.at < p.published + width]
        b = mean(before) if before else None  # type: ignore[type-var]
        a = mean(after) if after else None  # type: ignore[type-var]
        out[p.gid] = {
            "samples_before": len(before),
            "samples_after": len(after),
            "players_before_avg": b,
            "players_after_avg": a,
            "change_abs": None if a is None or b is None else a - b,
            "change_pct": None if a is None or not b else (a - b) / b * 100,
        }
    return out
