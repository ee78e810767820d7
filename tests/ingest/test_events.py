"""Envelopes, deterministic ids, payload contracts and dead-letter records."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from steam_platform.core import sources
from steam_platform.events.dead_letter import dead_letter
from steam_platform.events.envelope import envelope, make_event_id
from steam_platform.events.payloads import validation_error

SOURCE = "ISteamUserStats/GetNumberOfCurrentPlayers/v1"


def test_same_observation_gets_the_same_id_and_different_ones_differ() -> None:
    assert make_event_id(SOURCE, 730, "2026-11-24T10:00") == make_event_id(SOURCE, 730, "2026-11-24T10:00")
    assert make_event_id(SOURCE, 730, "2026-11-24T10:00") != make_event_id(SOURCE, 730, "2026-11-24T10:10")
    assert make_event_id(SOURCE, 730, "x") != make_event_id("other", 730, "x")
    # Parts are delimited, so ("ab", "c") and ("a", "bc") differ.
    assert make_event_id(SOURCE, "ab", "c") != make_event_id(SOURCE, "a", "bc")


def test_envelope_serialises_utc_and_keeps_payload_untouched() -> None:
    cet = timezone(timedelta(hours=1))
    payload = {"appid": 730, "player_count": 1_000_000, "result": 1, "extra": {"kept": "ja 한국어"}}
    env = envelope(
        source=SOURCE,
        natural_key=(730, "2026-11-24T10:00"),
        observed_at=datetime(2026, 11, 24, 11, 0, tzinfo=cet),
        partition_key="2026-11-24-10:00",
        payload=payload,
    )
    data = json.loads(env.to_json_bytes())
    assert data["observed_at"] == "2026-11-24T10:00:00.000000Z"
    assert data["schema_version"] == 1
    assert data["payload"] == payload
    assert set(data) == {"event_id", "schema_version", "source", "observed_at", "partition_key", "payload"}


def test_naive_timestamps_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        envelope(
            source=SOURCE, natural_key=(1,), observed_at=datetime(2026, 1, 1), partition_key="p", payload={}
        )


@pytest.mark.parametrize(
    ("topic", "payload", "problem"),
    [
        (sources.PLAYER_COUNTS.topic, {"appid": 730, "result": 1, "player_count": 5}, None),
        (sources.PLAYER_COUNTS.topic, {"appid": 730, "result": 1, "player_count": -5}, "player_count"),
        (sources.PLAYER_COUNTS.topic, {"result": 1}, "appid"),
        (sources.NEWS.topic, {"gid": "5123", "appid": 1, "title": "t", "url": "u", "date": 1}, None),
        (sources.NEWS.topic, {"gid": "abc", "appid": 1, "title": "t", "url": "u", "date": 1}, "gid"),
        (sources.PLAYTIME.topic, {"steamid": "76561197960287930", "appid": 1, "playtime_forever": 3}, None),
        (
            sources.PLAYTIME.topic,
            {"steamid": 76561197960287930, "appid": 1, "playtime_forever": 3},
            "steamid",
        ),
    ],
)
def test_payload_contracts(topic: str, payload: dict[str, object], problem: str | None) -> None:
    reason = validation_error(topic, payload)
    if problem is None:
        assert reason is None
    else:
        assert reason is not None and problem in reason


def test_dead_letter_keeps_bytes_and_says_why() -> None:
    record = dead_letter(
        intended_topic=sources.NEWS.topic, key="730", value=b"{bad", reason="gid: bad", source="news"
    )
    assert record.topic == sources.DEAD_LETTER_TOPIC and record.value == b"{bad" and record.key == "730"
    assert dict(record.headers) == {
        "dlq.reason_code": b"contract",
        "dlq.reason": b"gid: bad",
        "dlq.intended_topic": sources.NEWS.topic.encode(),
        "dlq.source": b"news",
    }
