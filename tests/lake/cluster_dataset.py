"""The input of the cluster tests: three days of Steam events for apps and days no other test uses.

The platform's bronze assets read the platform's topics, which the whole test session shares; the
apps (9,300,00x), the player, the news ids and the days (2026-11-16..18) are this module's alone, so
other tests' rows never mix into what the cluster tests compare (mart_top_games ranks every app of
a day) and this data never shows in theirs. Like `tests/lake_dataset.py` it holds a producer retry
(one record twice), a re-observed news post (same event id, later observation), a post near
midnight (news impact windows reach into the neighbouring day), a "no match" player count, and
one malformed record for the quarantine.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from lake_support import (
    SRC_CATALOG,
    SRC_DETAILS,
    app_message,
    at,
    news_message,
    player_count_message,
    playtime_message,
    raw_message,
)

from steam_platform.core import sources
from steam_platform.resources.kafka import OutgoingMessage

APPS = (9_300_001, 9_300_002, 9_300_003, 9_300_004)
DAYS = (date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18))
PLAYER = "76561190000093001"
#: Kafka key of the malformed record (finds it in the quarantine).
BAD_KEY = "cluster-test-malformed"


def _count(appid: int, hour: int, day: int) -> int:
    return 500 + (appid % 10) * 400 + (hour * 53 + day * 17 + appid % 7 * 11) % 350


def player_counts() -> list[OutgoingMessage]:
    """Every app hourly plus 00:30 and 23:30 each day; one 'no match'."""
    out = []
    for day in DAYS:
        start = at(f"{day.isoformat()}T00:00")
        moments = [start + timedelta(hours=h) for h in range(24)]
        moments += [start + timedelta(minutes=30), start + timedelta(hours=23, minutes=30)]
        for appid in APPS:
            for moment in moments:
                count = _count(appid, moment.hour, moment.day) + moment.minute
                out.append(player_count_message(sources.PLAYER_COUNTS.topic, appid, moment, count))
    out.append(player_count_message(sources.PLAYER_COUNTS.topic, APPS[2], at("2026-11-17T10:10"), None))
    return out


def news() -> list[OutgoingMessage]:
    posts = [
        ("9300000000000000001", APPS[0], "2026-11-16T23:00", "2026-11-16T23:40"),
        ("9300000000000000002", APPS[1], "2026-11-17T02:00", "2026-11-17T03:00"),
        ("9300000000000000003", APPS[0], "2026-11-17T12:00", "2026-11-18T08:00"),  # observed late
        ("9300000000000000004", APPS[3], "2026-11-18T20:15", "2026-11-18T21:00"),
    ]
    out = [
        news_message(
            sources.NEWS.topic, appid, gid, at(published), at(observed), contents="<p>Patch</p> [b]notes[/b]"
        )
        for gid, appid, published, observed in posts
    ]
    out.append(out[2])  # seen again: the same event id
    return out


def apps() -> list[OutgoingMessage]:
    first, second, third, fourth = APPS
    return [
        app_message(sources.APPS.topic, first, at("2026-11-16T00:05"), SRC_CATALOG, name="Cluster One"),
        app_message(
            sources.APPS.topic,
            first,
            at("2026-11-16T00:10"),
            SRC_DETAILS,
            name="Cluster One",
            type="game",
            is_free=False,
            developers=["Studio C"],
            publishers=["Pub C"],
            genres=[{"id": "1", "description": "Action"}],
            release_date={"coming_soon": False, "date": "1 Jan, 2021"},
            price_overview={"currency": "USD", "initial": 2999, "final": 1499},
        ),
        app_message(
            sources.APPS.topic, first, at("2026-11-17T00:05"), SRC_CATALOG, name="Cluster One Deluxe"
        ),
        app_message(
            sources.APPS.topic,
            second,
            at("2026-11-16T00:05"),
            SRC_DETAILS,
            name="Two",
            type="game",
            is_free=True,
        ),
        app_message(sources.APPS.topic, third, at("2026-11-16T00:05"), SRC_CATALOG, name="Three"),
        app_message(sources.APPS.topic, fourth, at("2026-11-18T00:05"), SRC_CATALOG, name="Four"),
    ]


def playtime() -> list[OutgoingMessage]:
    return [
        playtime_message(
            sources.PLAYTIME.topic, PLAYER, APPS[d % 2], at(f"{day.isoformat()}T12:00"), 60 * (d + 1)
        )
        for d, day in enumerate(DAYS)
    ]


def messages() -> list[OutgoingMessage]:
    """Everything to produce (a producer retry duplicates one count; one record is malformed)."""
    counts = player_counts()
    bad = raw_message(sources.PLAYER_COUNTS.topic, b'{"event_id": "cut off', key=BAD_KEY)
    return [*counts, counts[7], *news(), *apps(), *playtime(), bad]


def envelopes_per_event(batch: list[OutgoingMessage]) -> Counter[str]:
    """How many records of `batch` carry each event id (malformed records left out)."""
    import json

    ids: Counter[str] = Counter()
    for message in batch:
        try:
            ids[json.loads(message.value)["event_id"]] += 1
        except (ValueError, KeyError):
            continue
    return ids
