"""The warehouse (silver) rules of streaming/warehouse.py on small in-memory bronze, no servers.

Each test lands a few envelopes, built as the ingest assets build them (tests/lake_support.py), as
bronze rows in the test session's one Spark session (`spark_session`), and compares the silver
rows with values worked out by hand. The end-to-end tests (tests/lake/test_lake_pipeline.py,
test_quiet_data.py) check the same rules through Kafka, bronze and S3, slowly; each test here
names the rule it pins.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import lake_dataset as ds
import pytest
from lake_frames import bronze_frame, by, collected, columns_and_types, union_all
from lake_support import (
    SRC_CATALOG,
    SRC_DETAILS,
    SRC_NEWS,
    SRC_PLAYERS,
    SRC_RECENT,
    app_message,
    at,
    event_ids,
    news_message,
    player_count_message,
    playtime_message,
)
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from steam_platform.assets.warehouse.tables import DIM_APP, FACT_NEWS, FACT_PLAYER_COUNTS, FACT_PLAYTIME
from steam_platform.core.contracts import Table
from steam_platform.events.envelope import envelope
from steam_platform.resources.kafka import OutgoingMessage
from streaming import warehouse

DAY = date(2026, 10, 2)
APP, OTHER_APP = 101, 202
PLAYER = "76561190000000001"
SRC_OWNED = "IPlayerService/GetOwnedGames/v1"
#: The Kafka topic of the bronze rows: the rules never read it (each topic has its own bronze).
TOPIC = "test.warehouse_rules"

#: A fact builder: bronze rows and a day -> the fact rows of that day.
FactBuilder = Callable[[DataFrame, date], DataFrame]


def event(source: str, observed: datetime, payload: dict[str, Any]) -> OutgoingMessage:
    """Any observation in its envelope (its natural key: the whole payload and the time)."""
    env = envelope(
        source=source,
        natural_key=(json.dumps(payload, sort_keys=True), observed.isoformat()),
        observed_at=observed,
        partition_key=observed.strftime("%Y-%m-%d-%H:00"),
        payload=payload,
    )
    return OutgoingMessage(TOPIC, key="k", value=env.to_json_bytes())


def observed_again(message: OutgoingMessage, when: datetime, **payload: Any) -> OutgoingMessage:
    """The same event (same event_id) observed again at `when`, as a re-run ingest partition or a
    later fetch of the same news post makes it; `payload` fields replace the first observation's."""
    env = json.loads(message.value)
    env["observed_at"] = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    env["payload"] = {**env["payload"], **payload}
    return replace(message, value=json.dumps(env).encode())


def event_id(message: OutgoingMessage) -> str:
    """The envelope's event_id."""
    (only,) = event_ids([message])
    return only


def source_of(message: OutgoingMessage) -> str:
    """The envelope's source (the Steam endpoint)."""
    return str(json.loads(message.value)["source"])


def counts_message(appid: int, when: str, count: int | None) -> OutgoingMessage:
    """A GetNumberOfCurrentPlayers observation at `when` (count None: Steam's 'no match')."""
    return player_count_message(TOPIC, appid, at(when), count)


def post(gid: str, published: str, observed: str, **fields: Any) -> OutgoingMessage:
    """A news post of APP published and observed at the given UTC times."""
    return news_message(TOPIC, APP, gid, at(published), at(observed), **fields)


def catalogue(appid: int, when: str, name: str) -> OutgoingMessage:
    """A store catalogue entry (GetAppList): the app's name only."""
    return app_message(TOPIC, appid, at(when), SRC_CATALOG, name=name)


def details(appid: int, when: str, **payload: Any) -> OutgoingMessage:
    """A store details answer (appdetails) with the given fields."""
    return app_message(TOPIC, appid, at(when), SRC_DETAILS, **payload)


def versions(dim: DataFrame, appid: int) -> list[dict[str, Any]]:
    """dim_app rows of one app, oldest version first."""
    return sorted((r for r in collected(dim) if r["appid"] == appid), key=lambda r: r["valid_from"])


# Deduplication: one row per event_id, the first observation wins


def test_a_record_landed_twice_is_one_fact_row(spark_session: SparkSession) -> None:
    """A producer retry lands the same record twice in bronze: silver counts it once."""
    retried = counts_message(APP, "2026-10-02T10:00", 500)
    other = counts_message(OTHER_APP, "2026-10-02T10:00", 70)
    bronze = bronze_frame(spark_session, [retried, other, retried])
    rows = collected(warehouse.fact_player_counts(bronze, DAY))
    assert sorted(r["event_id"] for r in rows) == sorted([event_id(retried), event_id(other)])


def test_an_event_observed_twice_keeps_its_earliest_observation(spark_session: SparkSession) -> None:
    """A re-run poll slot re-observes an event with the same event_id: the first observation stays,
    even when the later one landed earlier in Kafka (`observed_at` decides, not the offset)."""
    first = counts_message(APP, "2026-10-02T10:00", 500)
    again = observed_again(first, at("2026-10-02T10:20"), player_count=999)
    bronze = bronze_frame(spark_session, [again, first], positions=[(0, 1), (0, 5)])
    (row,) = collected(warehouse.fact_player_counts(bronze, DAY))
    assert (row["player_count"], row["observed_at"]) == (500, at("2026-10-02T10:00"))


def test_observations_at_the_same_instant_are_ranked_by_kafka_partition_then_offset(
    spark_session: SparkSession,
) -> None:
    """When one event has several bronze rows with the same `observed_at`, the lowest Kafka
    partition wins, then the lowest offset: the choice is deterministic on every rebuild."""
    first = counts_message(APP, "2026-10-02T10:00", 1)
    copies = [first, observed_again(first, at("2026-10-02T10:00"), player_count=2)]
    copies.append(observed_again(first, at("2026-10-02T10:00"), player_count=3))
    bronze = bronze_frame(spark_session, copies, positions=[(1, 0), (0, 7), (0, 3)])
    (row,) = collected(warehouse.dedupe_events(bronze))
    assert (row["kafka_partition"], row["kafka_offset"]) == (0, 3)
    assert json.loads(row["payload"])["player_count"] == 3


# The day a fact row belongs to


def test_player_counts_are_the_observations_of_the_day(spark_session: SparkSession) -> None:
    """fact_player_counts(day) holds the polls observed on that UTC day, midnight included."""
    moments = ["2026-10-01T23:59:59", "2026-10-02T00:00", "2026-10-02T23:59:59", "2026-10-03T00:00"]
    bronze = bronze_frame(spark_session, [counts_message(APP, m, 10) for m in moments])
    rows = collected(warehouse.fact_player_counts(bronze, DAY))
    assert sorted(r["observed_at"] for r in rows) == [at(moments[1]), at(moments[2])]
    assert {r["dt"] for r in rows} == {DAY}


def test_news_belong_to_their_publication_day_whenever_observed(spark_session: SparkSession) -> None:
    """fact_news(day) holds the posts published that UTC day, also those first observed days
    later (a backfill); a post fetched again later is one row with its first observation's fields.
    Bronze days before the day are not read: a post is never observed before it exists."""
    on_day = post("1", "2026-10-02T12:00", "2026-10-02T12:30")
    seen_late = post("2", "2026-10-02T23:30", "2026-10-03T08:00", title="First title")
    refetched = observed_again(seen_late, at("2026-10-04T08:00"), title="Edited title")
    day_before = post("3", "2026-10-01T23:59", "2026-10-02T00:10")
    day_after = post("4", "2026-10-03T00:00", "2026-10-03T00:05")
    # Clock skew: observed (bronze dt) the day before its publication day; never read.
    from_the_future = post("5", "2026-10-02T00:30", "2026-10-01T23:50")
    bronze = bronze_frame(
        spark_session, [on_day, seen_late, refetched, day_before, day_after, from_the_future]
    )
    rows = by(collected(warehouse.fact_news(bronze, DAY)), "gid")
    assert set(rows) == {"1", "2"}
    assert rows["2"]["dt"] == DAY and rows["2"]["published_at"] == at("2026-10-02T23:30")
    assert rows["2"]["title"] == "First title"


def test_playtime_rows_are_the_polls_of_the_day_with_the_endpoint_as_source(
    spark_session: SparkSession,
) -> None:
    """fact_playtime(day) holds each tracked player's games polled that day; `source` names the
    endpoint (recently played carries the last two weeks, owned games lifetime minutes only)."""
    recent = playtime_message(TOPIC, PLAYER, APP, at("2026-10-02T05:00"), 100)
    owned = event(
        SRC_OWNED,
        at("2026-10-02T05:00"),
        {"steamid": PLAYER, "appid": OTHER_APP, "playtime_forever": 500},
    )
    yesterday = playtime_message(TOPIC, PLAYER, APP, at("2026-10-01T05:00"), 90)
    bronze = bronze_frame(spark_session, [recent, owned, yesterday])
    rows = by(collected(warehouse.fact_playtime(bronze, DAY)), "appid")
    picked = {a: (r["source"], r["playtime_2weeks"], r["playtime_forever"]) for a, r in rows.items()}
    assert picked == {APP: ("GetRecentlyPlayedGames", 30, 100), OTHER_APP: ("GetOwnedGames", None, 500)}
    assert rows[APP]["steamid"] == PLAYER and rows[APP]["dt"] == DAY
    assert rows[APP]["event_id"] == event_id(recent)


# Typed conversions and nulls


def test_a_no_match_answer_is_a_not_live_row_without_a_count(spark_session: SparkSession) -> None:
    """Steam answers 'no match' (result 42) for unreleased and unknown apps: the row stays (it is an
    observation) with no count and is_live false; a live app with 0 players keeps its 0, and a
    count that came with a result other than OK is not trusted."""
    live = counts_message(APP, "2026-10-02T10:00", 1234)
    empty = counts_message(OTHER_APP, "2026-10-02T10:00", 0)
    unreleased = counts_message(303, "2026-10-02T10:00", None)
    stale = event(
        SRC_PLAYERS,
        at("2026-10-02T10:00"),
        {"appid": 404, "result": 42, "player_count": 55},
    )
    bronze = bronze_frame(spark_session, [live, empty, unreleased, stale])
    rows = by(collected(warehouse.fact_player_counts(bronze, DAY)), "appid")
    assert {a: (r["player_count"], r["is_live"]) for a, r in rows.items()} == {
        APP: (1234, True),
        OTHER_APP: (0, True),
        303: (None, False),
        404: (None, False),
    }


def test_news_rows_are_typed_with_plain_text_and_word_count(spark_session: SparkSession) -> None:
    """A post's payload becomes typed columns; contents are kept raw and as plain text (BBCode of
    Steam announcements, HTML of external sites, entities decoded) with their word count."""
    bbcode = post("1", "2026-10-02T09:00", "2026-10-02T09:05", contents="[b]Big[/b] patch &amp; fixes")
    html = post(
        "2", "2026-10-02T10:00", "2026-10-02T10:05", contents="<p>Hello <b>world</b></p>", feed_type=0
    )
    empty = post("3", "2026-10-02T11:00", "2026-10-02T11:05", contents=None)
    bronze = bronze_frame(spark_session, [bbcode, html, empty])
    rows = by(collected(warehouse.fact_news(bronze, DAY)), "gid")
    assert rows["1"] == {
        "event_id": event_id(bbcode),
        "gid": "1",
        "appid": APP,
        "title": "Post 1",
        "url": "https://store.example/news/1",
        "author": "dev",
        "feedlabel": "Community Announcements",
        "feed_type": 1,
        "contents_raw": "[b]Big[/b] patch &amp; fixes",
        "contents_text": "Big patch & fixes",
        "word_count": 4,
        "published_at": at("2026-10-02T09:00"),
        "dt": DAY,
    }
    text = {gid: (r["contents_text"], r["word_count"]) for gid, r in rows.items()}
    assert text == {"1": ("Big patch & fixes", 4), "2": ("Hello world", 2), "3": (None, None)}
    assert (rows["2"]["feed_type"], rows["3"]["contents_raw"]) == (0, None)


def test_facts_drop_events_without_their_keys(spark_session: SparkSession) -> None:
    """A row the facts cannot key (no appid; no steamid for playtime; no gid for news) is dropped."""
    noon = at("2026-10-02T12:00")
    counts = [
        counts_message(APP, "2026-10-02T12:00", 5),
        event(SRC_PLAYERS, noon, {"result": 1, "player_count": 5}),
    ]
    playtime = [
        playtime_message(TOPIC, PLAYER, APP, noon, 10),
        event(SRC_OWNED, noon, {"appid": APP, "playtime_forever": 10}),
        event(SRC_OWNED, noon, {"steamid": PLAYER, "playtime_forever": 10}),
    ]
    ok_post = post("1", "2026-10-02T09:00", "2026-10-02T09:05")
    published = int(at("2026-10-02T09:00").timestamp())
    news = [ok_post, event(SRC_NEWS, noon, {"appid": APP, "title": "no gid", "date": published})]
    news.append(event(SRC_NEWS, noon, {"gid": "9", "title": "no app", "date": published}))
    kept = {
        "fact_player_counts": warehouse.fact_player_counts(bronze_frame(spark_session, counts), DAY),
        "fact_playtime": warehouse.fact_playtime(bronze_frame(spark_session, playtime), DAY),
        "fact_news": warehouse.fact_news(bronze_frame(spark_session, news), DAY),
    }
    union = union_all([f.select(F.lit(name).alias("table"), "event_id") for name, f in kept.items()])
    got = {(r["table"], r["event_id"]) for r in collected(union)}
    assert got == {
        ("fact_player_counts", event_id(counts[0])),
        ("fact_playtime", event_id(playtime[0])),
        ("fact_news", event_id(ok_post)),
    }


# dim_app: slowly changing history


def test_dim_app_keeps_store_details_through_catalogue_refreshes(spark_session: SparkSession) -> None:
    """The catalogue carries names, the store details the rest: the latest details are carried
    through catalogue events, so a catalogue rename keeps the genres and price. Versions follow
    `observed_at` (not Kafka order); each is valid until the next one starts; the last is current."""
    events = [
        catalogue(APP, "2026-10-01T00:05", "Alpha"),
        details(
            APP,
            "2026-10-01T00:10",
            name="Alpha",
            type="game",
            is_free=False,
            developers=["Studio A"],
            publishers=["Pub A", "Pub B"],
            genres=[{"id": "1", "description": "Action"}, {"id": "2", "description": "RPG"}],
            release_date={"coming_soon": False, "date": "1 Jan, 2020"},
            price_overview={"currency": "USD", "initial": 1999, "final": 999},
        ),
        catalogue(APP, "2026-10-02T00:05", "Alpha Remastered"),
        catalogue(APP, "2026-10-03T00:05", "Alpha Remastered"),  # unchanged: no new version
    ]
    bronze = bronze_frame(spark_session, events[::-1])  # landed in reverse order
    got = versions(warehouse.dim_app(bronze), APP)
    details_known = {
        "type": "game",
        "is_free": False,
        "developers": "Studio A",
        "publishers": "Pub A, Pub B",
        "genres": "Action, RPG",
        "release_date": "1 Jan, 2020",
        "price_cents": 999,
    }
    no_details = dict.fromkeys(details_known)
    t0, t1, t2 = at("2026-10-01T00:05"), at("2026-10-01T00:10"), at("2026-10-02T00:05")
    assert got == [
        {"appid": APP, "name": "Alpha", **no_details, "valid_from": t0, "valid_to": t1, "is_current": False},
        {
            "appid": APP,
            "name": "Alpha",
            **details_known,
            "valid_from": t1,
            "valid_to": t2,
            "is_current": False,
        },
        {
            "appid": APP,
            "name": "Alpha Remastered",
            **details_known,
            "valid_from": t2,
            "valid_to": None,
            "is_current": True,
        },
    ]


def test_dim_app_takes_the_details_of_the_latest_store_answer_as_a_whole(
    spark_session: SparkSession,
) -> None:
    """Store details are a snapshot of the store page: a field the latest answer lacks is gone, not
    carried forward. A game that went free to play has no `price_overview` any more, so its current
    price is null (the contract: null when free/unknown), and genres the store dropped are null;
    a catalogue entry in between still changes nothing but the name."""
    events = [
        details(
            APP,
            "2026-10-01T00:10",
            name="Alpha",
            type="game",
            is_free=False,
            genres=[{"id": "1", "description": "Action"}],
            price_overview={"currency": "USD", "initial": 1999, "final": 999},
        ),
        catalogue(APP, "2026-10-02T00:05", "Alpha"),
        details(APP, "2026-10-03T00:10", name="Alpha", type="game", is_free=True),
    ]
    got = versions(warehouse.dim_app(bronze_frame(spark_session, events)), APP)
    assert [(v["is_free"], v["price_cents"], v["genres"], v["is_current"]) for v in got] == [
        (False, 999, "Action", False),
        (True, None, None, True),
    ]


def test_dim_app_starts_a_version_only_when_an_attribute_changes(spark_session: SparkSession) -> None:
    """Unchanged observations extend the current version; a rename back to an old name is a new
    version (history is a sequence of states, not a set of names)."""
    names = [("2026-10-01T00:05", "A"), ("2026-10-02T00:05", "A"), ("2026-10-03T00:05", "B")]
    names.append(("2026-10-04T00:05", "A"))
    bronze = bronze_frame(spark_session, [catalogue(APP, when, name) for when, name in names])
    got = [
        (v["name"], v["valid_from"], v["valid_to"], v["is_current"])
        for v in versions(warehouse.dim_app(bronze), APP)
    ]
    t1, t3, t4 = at(names[0][0]), at(names[2][0]), at(names[3][0])
    assert got == [("A", t1, t3, False), ("B", t3, t4, False), ("A", t4, None, True)]


def test_dim_app_ignores_an_event_observed_again(spark_session: SparkSession) -> None:
    """An unchanged catalogue entry fetched again is the same event (same event_id): it is
    deduplicated to its first observation and does not revert a newer name from the details."""
    listed = catalogue(APP, "2026-10-01T00:05", "Old name")
    renamed = details(APP, "2026-10-02T00:10", name="New name", type="game")
    relisted = observed_again(listed, at("2026-10-03T00:05"))
    got = versions(warehouse.dim_app(bronze_frame(spark_session, [listed, renamed, relisted])), APP)
    assert [(v["name"], v["is_current"]) for v in got] == [("Old name", False), ("New name", True)]


def test_dim_app_has_one_current_version_per_app_seen(spark_session: SparkSession) -> None:
    """Every app with an app event has exactly one current version: an app only in the catalogue
    (its store details missing, e.g. a store outage) is there with its name and no details; an
    event without an appid is dropped."""
    events = [
        catalogue(APP, "2026-10-01T00:05", "Catalogue only"),
        details(OTHER_APP, "2026-10-01T00:05", name="Details only", type="dlc", is_free=True),
        details(OTHER_APP, "2026-10-02T00:05", name="Details only", type="dlc", is_free=False),
        event(SRC_CATALOG, at("2026-10-01T00:05"), {"name": "no appid"}),
    ]
    rows = collected(warehouse.dim_app(bronze_frame(spark_session, events)))
    current = by([r for r in rows if r["is_current"]], "appid")
    assert set(current) == {APP, OTHER_APP}
    assert (current[APP]["name"], current[APP]["type"], current[APP]["genres"]) == (
        "Catalogue only",
        None,
        None,
    )
    assert (current[OTHER_APP]["type"], current[OTHER_APP]["is_free"]) == ("dlc", False)
    assert all(r["valid_to"] is None for r in current.values())
    assert len(rows) == 3


# Empty and quiet inputs

BUILDERS: dict[str, tuple[Table, Callable[[DataFrame], DataFrame]]] = {
    "fact_player_counts": (FACT_PLAYER_COUNTS, lambda b: warehouse.fact_player_counts(b, DAY)),
    "fact_news": (FACT_NEWS, lambda b: warehouse.fact_news(b, DAY)),
    "fact_playtime": (FACT_PLAYTIME, lambda b: warehouse.fact_playtime(b, DAY)),
    "dim_app": (DIM_APP, warehouse.dim_app),
}


@pytest.mark.parametrize("name", BUILDERS)
def test_empty_bronze_builds_an_empty_table_with_the_contract_columns(
    spark_session: SparkSession, name: str
) -> None:
    """A fresh deployment (no bronze yet) builds every silver table empty, and the transform itself
    yields the contract's columns and types: `conform` has nothing to cast."""
    table, build = BUILDERS[name]
    rows = build(bronze_frame(spark_session, []))
    assert columns_and_types(rows) == columns_and_types(table)
    assert rows.isEmpty()


def test_a_quiet_day_builds_empty_facts(spark_session: SparkSession) -> None:
    """A day bronze holds no events for (no news published, nobody tracked, no polls) builds empty
    facts, though other days have events."""
    quiet = DAY + timedelta(days=10)
    counts = bronze_frame(spark_session, [counts_message(APP, "2026-10-02T10:00", 5)])
    news = bronze_frame(spark_session, [post("1", "2026-10-02T09:00", "2026-10-02T09:05")])
    playtime = bronze_frame(spark_session, [playtime_message(TOPIC, PLAYER, APP, at("2026-10-02T05:00"), 1)])
    facts = [
        warehouse.fact_player_counts(counts, quiet).select("event_id"),
        warehouse.fact_news(news, quiet).select("event_id"),
        warehouse.fact_playtime(playtime, quiet).select("event_id"),
    ]
    assert union_all(facts).isEmpty()


# The three-day dataset of the end-to-end pipeline test, in memory


def test_the_pipeline_dataset_in_silver(spark_session: SparkSession) -> None:
    """tests/lake_dataset.py through the silver transforms, checked as test_lake_pipeline.py checks
    the lake's silver tables: a retried record once, 'no match' rows without counts, a post seen
    twice once on its publication day, plain text, the app history, one playtime row per day."""

    def bronze_of(*sources: str) -> DataFrame:
        """The bronze of the topic these sources produce to."""
        return bronze_frame(spark_session, [m for m in ds.messages() if source_of(m) in sources])

    counts_bronze, news_bronze = bronze_of(SRC_PLAYERS), bronze_of(SRC_NEWS)
    apps_bronze, playtime_bronze = bronze_of(SRC_CATALOG, SRC_DETAILS), bronze_of(SRC_RECENT)

    def all_days(build: FactBuilder, bronze: DataFrame) -> DataFrame:
        return union_all([build(bronze, day) for day in ds.DAYS])

    counts = collected(all_days(warehouse.fact_player_counts, counts_bronze))
    assert len(counts) == len(ds.samples())
    not_live = [(s.appid, s.at) for s in ds.samples() if s.count is None]
    assert [(r["appid"], r["observed_at"]) for r in counts if r["player_count"] is None] == not_live
    assert [r for r in counts if r["player_count"] is None] == [r for r in counts if not r["is_live"]]

    news = by(collected(all_days(warehouse.fact_news, news_bronze)), "gid")
    assert set(news) == {p.gid for p in ds.posts()}
    assert {gid: r["dt"] for gid, r in news.items()} == {p.gid: p.published.date() for p in ds.posts()}
    assert {(r["contents_text"], r["word_count"]) for r in news.values()} == {("Big patch & fixes", 4)}

    alpha = versions(warehouse.dim_app(apps_bronze), ds.ALPHA)
    assert [(v["name"], v["is_current"], v["genres"], v["price_cents"]) for v in alpha] == [
        ("Alpha", False, None, None),
        ("Alpha", False, "Action, RPG", 999),
        ("Alpha Remastered", True, "Action, RPG", 999),
    ]
    assert all_days(warehouse.fact_playtime, playtime_bronze).count() == 3

    # A range is built in one plan, each day's rows as a build of that day alone builds them.
    ranged = [
        *collected(warehouse.fact_player_counts_of_days(counts_bronze, ds.DAYS)),
        *collected(warehouse.fact_news_of_days(news_bronze, ds.DAYS)),
    ]
    assert sorted(map(repr, ranged)) == sorted(map(repr, [*counts, *news.values()]))
