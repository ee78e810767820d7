"""Ingest plumbing without servers: envelopes and DLQ routing, per-item isolation, Steam-down
detection, and the producer's durability settings the ingest relies on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from steam_platform.assets.ingest.common import CONSECUTIVE_UNAVAILABLE_LIMIT, EventBatch, fetch_each
from steam_platform.core import sources
from steam_platform.events.envelope import make_event_id
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.steam import (
    SteamAppError,
    SteamAuthError,
    SteamMalformedResponse,
    SteamUnavailable,
)

SOURCE = "ISteamUserStats/GetNumberOfCurrentPlayers/v1"


def test_event_batch_keys_ids_and_dead_letters() -> None:
    batch = EventBatch(sources.PLAYER_COUNTS.topic, SOURCE, "2026-11-25-10:00")
    now = datetime(2026, 11, 25, 10, 21, tzinfo=UTC)
    batch.add("730", (730, "slot"), {"appid": 730, "result": 1, "player_count": 5}, now)
    batch.add("0", (0, "slot"), {"appid": 0, "result": 1, "player_count": -1}, now)
    good, dead = batch.messages
    assert (good.topic, good.key, batch.event_ids) == (
        sources.PLAYER_COUNTS.topic,
        "730",
        [make_event_id(SOURCE, 730, "slot")],
    )
    assert dead.topic == sources.DEAD_LETTER_TOPIC and batch.dead_lettered == 1
    headers = dict(dead.headers)
    assert b"appid" in headers["dlq.reason"] and b"player_count" in headers["dlq.reason"]
    assert headers["dlq.intended_topic"] == sources.PLAYER_COUNTS.topic.encode()


def test_fetch_each_isolates_item_errors() -> None:
    def fetch(item: int) -> int:
        if item == 3:
            raise SteamMalformedResponse("bad body")
        if item == 5:
            raise SteamUnavailable("HTTP 503")
        return item * 10

    results = dict(fetch_each(range(8), fetch, workers=3))
    assert {k: v for k, v in results.items() if isinstance(v, int)} == {
        i: i * 10 for i in range(8) if i not in (3, 5)
    }
    assert isinstance(results[3], SteamMalformedResponse)
    assert isinstance(results[5], SteamAppError) and results[5].reason == "unavailable"


def test_fetch_each_stops_when_steam_is_down_or_the_key_is_bad() -> None:
    seen: list[int] = []

    def down(item: int) -> int:
        seen.append(item)
        raise SteamUnavailable("HTTP 503")

    with pytest.raises(SteamUnavailable, match="Steam looks down"):
        list(fetch_each(range(100), down, workers=1))
    # Stops early: the limit, plus what was already queued for the one worker.
    assert CONSECUTIVE_UNAVAILABLE_LIMIT <= len(seen) <= CONSECUTIVE_UNAVAILABLE_LIMIT + 2

    def refused(item: int) -> int:
        raise SteamAuthError("refused the API key")

    with pytest.raises(SteamAuthError):
        list(fetch_each(range(100), refused, workers=2))


def test_producer_is_idempotent_and_waits_for_all_replicas() -> None:
    config = KafkaResource(bootstrap_servers="127.0.0.1:9092").producer_config()
    assert config["enable.idempotence"] is True and config["acks"] == "all"
    assert config["compression.type"] == "zstd"
