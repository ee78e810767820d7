"""Dead letters without servers: what each reason's record carries, how a batch diverts a record too
large for its topic, what a malformed answer keeps, and the simulator faults that produce them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from steam_platform.assets.ingest.common import EventBatch
from steam_platform.core import sources
from steam_platform.events.dead_letter import (
    EXCERPT_BYTES,
    dead_letter,
    malformed_dead_letter,
    oversized_dead_letter,
)
from steam_platform.resources.kafka_records import (
    HEADER_OVERHEAD_BYTES,
    RECORD_OVERHEAD_BYTES,
    OutgoingMessage,
    record_size,
)
from steam_platform.resources.steam import SteamMalformedResponse
from steam_platform.resources.steam.errors import BODY_EXCERPT_BYTES
from steam_platform.resources.steam.parsing import read_player_count
from steam_platform.resources.steam.transport import RawResponse
from steam_simulator.faults import FaultRuleError, apply_fault, parse_rules
from steam_simulator.replies import Reply, json_reply

SOURCE = "ISteamUserStats/GetNumberOfCurrentPlayers/v1"
NOW = datetime(2026, 11, 25, 10, 21, tzinfo=UTC)


def _headers(message: OutgoingMessage) -> dict[str, str]:
    return {k: v.decode() for k, v in message.headers}


def test_record_size_counts_key_value_headers_and_framing() -> None:
    message = OutgoingMessage("t", "730", b"x" * 100, (("h", b"abc"),))
    assert record_size(message) == RECORD_OVERHEAD_BYTES + 3 + 100 + 1 + 3 + HEADER_OVERHEAD_BYTES
    assert record_size(OutgoingMessage("t", "é", b"")) == RECORD_OVERHEAD_BYTES + 2  # UTF-8 bytes


def test_oversized_dead_letter_describes_the_record_in_bounded_space() -> None:
    value = b'{"payload":"' + b"x" * 3_000_000 + b'"}'
    original = OutgoingMessage(sources.NEWS.topic, "730", value)
    stand_in = oversized_dead_letter(
        original, source="news", partition_key="2026-11-25", size=record_size(original), limit=1_000_000
    )
    body = json.loads(stand_in.value)
    assert stand_in.topic == sources.DEAD_LETTER_TOPIC and stand_in.key == "730"
    assert record_size(stand_in) < 4 * EXCERPT_BYTES
    assert body["size_bytes"] == record_size(original) and body["limit_bytes"] == 1_000_000
    assert body["value_excerpt"] == value[:EXCERPT_BYTES].decode() and len(body["sha256"]) == 64
    assert body["partition_key"] == "2026-11-25" and body["intended_topic"] == sources.NEWS.topic
    headers = _headers(stand_in)
    assert headers["dlq.reason_code"] == "oversized" and headers["dlq.source"] == "news"
    assert f"record of {record_size(original)} bytes is larger than" in headers["dlq.reason"]


def test_an_oversized_contract_dead_letter_keeps_where_it_was_headed_and_why() -> None:
    contract = dead_letter(
        intended_topic=sources.NEWS.topic, key="570", value=b"y" * 50_000, reason="gid: bad", source="news"
    )
    stand_in = oversized_dead_letter(
        contract, source="other", partition_key="p", size=record_size(contract), limit=10_000
    )
    headers = _headers(stand_in)
    assert headers["dlq.intended_topic"] == sources.NEWS.topic and headers["dlq.source"] == "news"
    assert headers["dlq.reason"].endswith("also contract: gid: bad")


def test_a_batch_diverts_what_its_topics_cannot_take_and_counts_each_once() -> None:
    batch = EventBatch(sources.PLAYER_COUNTS.topic, SOURCE, "2026-11-25-10:00")
    batch.add("730", (730, "s"), {"appid": 730, "result": 1, "player_count": 5}, NOW)
    batch.add("570", (570, "s"), {"appid": 570, "result": 1, "player_count": 5, "pad": "x" * 5000}, NOW)
    batch.add("440", (440, "s"), {"appid": 0, "result": 1, "pad": "x" * 5000}, NOW)  # contract and size
    assert batch.dead_letters.keys() == {"440"}
    limits = {sources.PLAYER_COUNTS.topic: 2000, sources.DEAD_LETTER_TOPIC: 2000}

    batch.divert_oversized(limits)

    assert [(m.topic, m.key) for m in batch.messages] == [
        (sources.PLAYER_COUNTS.topic, "730"),
        (sources.DEAD_LETTER_TOPIC, "570"),
        (sources.DEAD_LETTER_TOPIC, "440"),
    ]
    assert all(record_size(m) <= limits[m.topic] + EXCERPT_BYTES for m in batch.messages)
    assert batch.dead_lettered == 2 and len(batch.event_ids) == 1
    assert {k: v.split(":", 1)[0] for k, v in batch.dead_letters.items()} == {
        "570": "oversized",
        "440": "oversized",
    }
    batch.divert_oversized({sources.PLAYER_COUNTS.topic: 10_000, sources.DEAD_LETTER_TOPIC: 10_000})
    assert batch.dead_lettered == 2, "diverting again changes nothing"


def test_a_cut_or_wrong_typed_answer_is_dead_lettered_with_its_body_without_the_key() -> None:
    cut = RawResponse(200, b'{"response":{"player_count":12,"res', {"Content-Type": "application/json"})
    with pytest.raises(SteamMalformedResponse) as caught:
        read_player_count(730, cut)
    assert caught.value.body == cut.body and caught.value.body_bytes == len(cut.body)

    wrong = RawResponse(200, b'{"response":{"player_count":"many","result":1}}', {})
    with pytest.raises(SteamMalformedResponse) as mistyped:
        read_player_count(570, wrong)
    assert "'many' is not a count" in str(mistyped.value) and mistyped.value.body == wrong.body

    huge = RawResponse(200, b"<html>" + b"k" * 10_000, {})
    with pytest.raises(SteamMalformedResponse) as html:
        read_player_count(440, huge)
    assert len(html.value.body) == BODY_EXCERPT_BYTES and html.value.body_bytes == 10_006

    record = malformed_dead_letter(
        intended_topic=sources.PLAYER_COUNTS.topic,
        key="730",
        source=SOURCE,
        partition_key="p",
        reason="body echoes ?key=SECRETKEY123",
        body=b"<p>your key SECRETKEY123 was refused</p>",
        body_bytes=41,
        secrets=("SECRETKEY123",),
    )
    assert b"SECRETKEY123" not in record.value and b"SECRETKEY123" not in b"".join(
        v for _, v in record.headers
    )
    assert json.loads(record.value)["body_excerpt"] == "<p>your key *** was refused</p>"

    batch = EventBatch(sources.PLAYER_COUNTS.topic, SOURCE, "p")
    batch.malformed(730, caught.value)
    assert batch.skipped["730"].startswith("malformed_response: ") and batch.dead_lettered == 1
    (message,) = batch.messages
    assert _headers(message)["dlq.reason_code"] == "malformed_response"
    assert json.loads(message.value)["body_excerpt"] == cut.body.decode()


def test_simulator_faults_cut_retype_and_pad_the_answer() -> None:
    def serve() -> Reply:
        return json_reply({"response": {"player_count": 12, "result": 1}})

    (cut,) = parse_rules([{"kind": "cut_json"}], [])
    assert apply_fault(cut, serve).body == serve().body[: len(serve().body) // 2]
    (wrong,) = parse_rules([{"kind": "wrong_type", "field": "player_count"}], [])
    assert json.loads(apply_fault(wrong, serve).body) == {"response": {"player_count": "many", "result": 1}}
    (big,) = parse_rules([{"kind": "oversized", "field": "result", "size_bytes": 5000}], [])
    padded = json.loads(apply_fault(big, serve).body)
    assert padded["response"]["padding"] == "x" * 5000 and padded["response"]["player_count"] == 12
    for bad in ({"kind": "oversized"}, {"kind": "503", "field": "x"}):
        with pytest.raises(FaultRuleError, match="field"):
            parse_rules([bad], [])
