"""One day of history per source, in exactly the shape the platform's ingest produces it.

- Player counts: one GetNumberOfCurrentPlayers observation per app and poll slot, keyed as the
  `player_counts` asset keys it (appid, slot), so a real poll of the same slot has the same
  event_id; returned as a bronze table (`bronze_files.BRONZE_FILE_SCHEMA`).
- News: every post the simulator's feed publishes that day for the apps, as GetNewsForApp items
  (`gid` as the id, as the `news` asset does), observed 5-120 minutes after publication.
- App details: one store `appdetails` snapshot per listed app and day (as the daily `app_details`
  asset produces), on top of which prices follow Steam's seasonal sales and a few apps change
  price, go free to play, gain a genre or change publisher, so the app dimension has versions.

Everything is a pure function of the plan's seed, the app and the day: re-running a day gives the
same event ids and payloads.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa

from steam_devstack.history.bronze_files import BRONZE_FILE_SCHEMA
from steam_devstack.history.curves import DAY_S, day_counts, day_start, slot_times
from steam_devstack.history.plan import HistoryWorld
from steam_platform.core import sources
from steam_platform.events.envelope import envelope
from steam_platform.events.payloads import validation_error
from steam_platform.resources.kafka import OutgoingMessage
from steam_platform.resources.steam import EP_NEWS, EP_PLAYERS, PATHS
from steam_simulator.catalog import App
from steam_simulator.seeding import unit
from steam_simulator.store import delisted

PLAYERS_SOURCE = PATHS[EP_PLAYERS].rstrip("/")
NEWS_SOURCE = PATHS[EP_NEWS].rstrip("/")
#: The `source` the `app_details` asset gives store answers (`streaming/warehouse.py` keys on it).
DETAILS_SOURCE = "store/api/appdetails"
RESULT_OK, RESULT_NO_MATCH = 1, 42
#: Steam's seasonal sales: (first month, first day, days) -> every app on sale that long.
SEASONAL_SALES = ((3, 13, 8), (6, 25, 15), (9, 29, 7), (11, 26, 7), (12, 19, 15))


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def player_count_event_id(appid: int, slot_iso: str) -> str:
    """`make_event_id(PLAYERS_SOURCE, appid, slot_iso)` without json.dumps per row (a year is 52 M
    rows); a unit test proves the two agree."""
    material = f'["{PLAYERS_SOURCE}","{appid}","{slot_iso}"]'
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def _count_payload(appid: int, count: int | None) -> str:
    if count is None:
        return f'{{"result":{RESULT_NO_MATCH},"appid":{appid}}}'
    return f'{{"player_count":{count},"result":{RESULT_OK},"appid":{appid}}}'


def player_counts_day(world: HistoryWorld, day: date, ingested_at: datetime) -> pa.Table:
    """Every app's observation at every poll slot of `day`, as bronze rows (no Kafka provenance)."""
    topic = sources.PLAYER_COUNTS.topic
    times = slot_times(day, world.plan.poll_interval_minutes)
    slot_isos = [_utc(t).isoformat() for t in times]
    hours = [_utc(t).strftime("%Y-%m-%d-%H:00") for t in times]
    seed = world.plan.seed
    ids: list[str] = []
    observed_us: list[int] = []
    keys: list[str] = []
    payloads: list[str] = []
    for app in world.apps:
        appid = app.appid
        counts = day_counts(world.world.news, app, day, world.plan.poll_interval_minutes)
        lag = 5 + int(30 * unit(seed, "poll-lag", appid))  # the poll's seconds after its slot
        ids.extend([player_count_event_id(appid, slot_iso) for slot_iso in slot_isos])
        observed_us.extend([(t + lag) * 1_000_000 for t in times])
        keys.extend([str(appid)] * len(times))
        payloads.extend([_count_payload(appid, count) for count in counts])
    rows = len(ids)
    utc_us = pa.timestamp("us", tz="UTC")
    return pa.table(
        {
            "event_id": ids,
            "schema_version": pa.repeat(1, rows).cast(pa.int32()),
            "source": pa.repeat(PLAYERS_SOURCE, rows),
            "observed_at": pa.array(observed_us, pa.int64()).cast(utc_us),
            "partition_key": hours * len(world.apps),
            "payload": payloads,
            "kafka_topic": pa.repeat(topic, rows),
            "kafka_partition": pa.nulls(rows, pa.int32()),
            "kafka_offset": pa.nulls(rows, pa.int64()),
            "kafka_timestamp": pa.nulls(rows, utc_us),
            "kafka_key": keys,
            "ingested_at": pa.repeat(pa.scalar(ingested_at, utc_us), rows),
        },
        schema=BRONZE_FILE_SCHEMA,
    )


def _message(
    topic: str, source: str, key: tuple[object, ...], at: datetime, pkey: str, payload: dict
) -> OutgoingMessage:
    reason = validation_error(topic, payload)
    if reason is not None:  # generated data must meet the contract ingest enforces
        raise ValueError(f"history payload for {topic} breaks its contract: {reason}")
    event = envelope(source=source, natural_key=key, observed_at=at, partition_key=pkey, payload=payload)
    return OutgoingMessage(topic, str(payload["appid"]), event.to_json_bytes())


def news_day(world: HistoryWorld, day: date) -> list[OutgoingMessage]:
    """The posts published on `day` for the plan's apps, as the `news` asset produces them."""
    topic = sources.NEWS.topic
    start = day_start(day)
    feed = world.world.news
    messages = []
    for post in world.posts_by_day.get(day, []):
        item = feed.render(post)
        payload = {**item, "gid": str(item["gid"]), "appid": item.get("appid", post.appid)}
        lag = 300 + int(6_900 * unit(world.plan.seed, "news-lag", post.gid))
        observed = _utc(min(post.date + lag, start + DAY_S - 1))
        messages.append(_message(topic, NEWS_SOURCE, (payload["gid"],), observed, day.isoformat(), payload))
    return messages


def _event_day(seed: int, what: str, appid: int, first: date, share: float) -> date | None:
    """The day a rare change happens to an app (within a year after `first`), for `share` of apps."""
    if unit(seed, what, appid) >= share:
        return None
    return first + timedelta(days=int(365 * unit(seed, what + "-day", appid)))


def _on_sale(seed: int, appid: int, day: date) -> int:
    """The app's discount on `day`: its seasonal discount during Steam's sales, a weekly deal in
    some weeks, else none."""
    for month, first, length in SEASONAL_SALES:
        for year in (day.year, day.year - 1):  # the winter sale runs into January
            start = date(year, month, first)
            if start <= day < start + timedelta(days=length):
                return (10, 25, 33, 50, 75)[int(5 * unit(seed, "sale-depth", appid))]
    week = day.isocalendar()
    if unit(seed, "weekly-deal", appid, week.year, week.week) < 0.04:
        return (10, 20, 30, 40)[int(4 * unit(seed, "deal-depth", appid, week.year, week.week))]
    return 0


def details_payload(world: HistoryWorld, app: App, day: date, observed: datetime) -> dict[str, Any]:
    """The store's `data` for `app` as seen at `observed`, with the year's changes applied."""
    seed = world.plan.seed
    data = world.world.store.details(app, "us", observed.timestamp())
    anchor = world.plan.first_day
    raise_day = _event_day(seed, "price-raise", app.appid, anchor, 0.10)
    free_day = _event_day(seed, "goes-free", app.appid, anchor, 0.02)
    genre_day = _event_day(seed, "new-genre", app.appid, anchor, 0.05)
    publisher_day = _event_day(seed, "new-publisher", app.appid, anchor, 0.01)
    price = data.get("price_overview")
    if free_day is not None and day >= free_day:
        data["is_free"] = True
        data.pop("price_overview", None)
        price = None
        if not any(g["description"] == "Free To Play" for g in data["genres"]):
            data["genres"] = [*data["genres"], {"id": "37", "description": "Free To Play"}]
    if price is not None:
        initial = int(price["initial"] * (1.2 if raise_day is not None and day >= raise_day else 1.0))
        discount = _on_sale(seed, app.appid, day)
        final = initial * (100 - discount) // 100
        data["price_overview"] = {
            **price,
            "initial": initial,
            "final": final,
            "discount_percent": discount,
            "initial_formatted": f"${initial / 100:.2f}" if discount else "",
            "final_formatted": f"${final / 100:.2f}",
        }
    if genre_day is not None and day >= genre_day:
        data["genres"] = [*data["genres"], {"id": "23", "description": "Indie"}]
    if publisher_day is not None and day >= publisher_day:
        data["publishers"] = [*data["publishers"], "Acquired Publishing"]
    return {**data, "appid": app.appid}


def app_details_day(world: HistoryWorld, day: date) -> list[OutgoingMessage]:
    """One store details snapshot per listed app on `day`, as the `app_details` asset produces them
    (delisted apps answer `success: false` and produce nothing)."""
    topic = sources.APPS.topic
    start = day_start(day)
    messages = []
    for app in world.apps:
        if delisted(world.plan.seed, app):
            continue
        observed = _utc(start + 3 * 3600 + int(3_600 * unit(world.plan.seed, "details-at", app.appid)))
        payload = details_payload(world, app, day, observed)
        messages.append(
            _message(topic, DETAILS_SOURCE, (app.appid, day.isoformat()), observed, day.isoformat(), payload)
        )
    return messages
