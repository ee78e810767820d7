"""Oversized and malformed Steam answers at scale: dead-lettered with the reason, the partition completes.

A Steam answer larger than Kafka takes used to fail its whole partition on every retry (the producer
refuses it with MSG_SIZE_TOO_LARGE); a cut body or a field of the wrong type skipped the item with
nothing kept. Here each such item becomes one record in the dead-letter topic saying why, every good
record reaches its topic exactly once, and the metadata counts the dead letters by reason. Real
Kafka (the stack's), the simulator over HTTP injecting the faults.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from ingest_support import SimAdmin, TopicWindow, clean_sim, sim, watermarks

from steam_platform.assets.bus.topics import kafka_topics
from steam_platform.assets.ingest.definitions import news, player_counts
from steam_platform.assets.ingest.players import POLL_SLOT_TAG, poll_slot
from steam_platform.core import sources
from steam_platform.core.partitions import hourly_partitions
from steam_platform.events.dead_letter import EXCERPT_BYTES
from steam_platform.resources.kafka import KafkaResource, OutgoingMessage, RecordTooLarge, TopicSpec
from steam_platform.resources.kafka_records import record_size

pytestmark = pytest.mark.integration
__all__ = ["clean_sim", "sim"]

PLAYERS = "ISteamUserStats/GetNumberOfCurrentPlayers"
NEWS = "ISteamNews/GetNewsForApp"


@pytest.fixture(scope="module")
def kafka(stack_env: dict[str, str]) -> KafkaResource:
    kafka = KafkaResource(bootstrap_servers=stack_env["KAFKA_BOOTSTRAP_SERVERS"])
    assert dg.materialize([kafka_topics], resources={"kafka": kafka}).success
    return kafka


def _meta(result: dg.ExecuteInProcessResult, node: str) -> dict[str, Any]:
    (materialization,) = result.asset_materializations_for_node(node)
    return {k: v.value for k, v in materialization.metadata.items()}


def _track(monkeypatch: pytest.MonkeyPatch, folder: Path, apps: list[int]) -> None:
    path = folder / "tracked.yaml"
    path.write_text(yaml.safe_dump({"apps": apps, "players": []}))
    monkeypatch.setenv("STEAM_TRACKED_CONFIG", str(path))


def test_a_thousand_apps_with_an_oversized_a_cut_and_a_wrong_typed_answer(
    sim: SimAdmin, kafka: KafkaResource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steam = sim.steam(tmp_path / "budget", max_concurrency=8)
    catalogue = [a["appid"] for page in steam.client().app_list(max_results=50_000) for a in page.apps]
    apps = sorted(catalogue)[:1000]
    assert len(apps) == 1000
    _track(monkeypatch, tmp_path, apps)
    oversized, cut, wrong = apps[10], apps[500], apps[990]
    padding = 1_200_000  # more than the topic's 1 MB and the producer's `message.max.bytes`
    sim.set_faults(
        [
            {
                "endpoint": PLAYERS,
                "kind": "oversized",
                "field": "result",
                "size_bytes": padding,
                "appids": [oversized],
            },
            {"endpoint": PLAYERS, "kind": "cut_json", "appids": [cut]},
            {"endpoint": PLAYERS, "kind": "wrong_type", "field": "player_count", "appids": [wrong]},
        ]
    )
    slot = poll_slot(datetime.now(UTC), 10)
    partition = hourly_partitions.get_partition_key_for_timestamp(slot.timestamp())
    window = TopicWindow(kafka, sources.PLAYER_COUNTS.topic, sources.DEAD_LETTER_TOPIC)

    result = dg.materialize(
        [player_counts],
        partition_key=partition,
        resources={"steam": steam, "kafka": kafka},
        tags={POLL_SLOT_TAG: slot.isoformat()},
    )

    assert result.success
    good = window.records(sources.PLAYER_COUNTS.topic)
    keys = Counter(r.key for r in good)
    assert set(keys) == {str(a) for a in apps} - {str(oversized), str(cut), str(wrong)}
    assert set(keys.values()) == {1}, "every good record exactly once"
    dead = {r.key: r for r in window.records(sources.DEAD_LETTER_TOPIC)}
    assert set(dead) == {str(oversized), str(cut), str(wrong)}
    for record in dead.values():
        assert record.headers["dlq.intended_topic"] == sources.PLAYER_COUNTS.topic
        assert record.headers["dlq.source"] == f"{PLAYERS}/v1"
        assert record.value["partition_key"] == partition

    big = dead[str(oversized)]
    assert big.headers["dlq.reason_code"] == "oversized"
    assert big.value["size_bytes"] > padding and big.value["limit_bytes"] == 1_000_000
    assert big.value["size_bytes"] > big.value["limit_bytes"]
    assert len(big.value["value_excerpt"]) == EXCERPT_BYTES and len(big.value["sha256"]) == 64
    assert '"appid":' in big.value["value_excerpt"] or "padding" in big.value["value_excerpt"]

    truncated = dead[str(cut)]
    assert truncated.headers["dlq.reason_code"] == "malformed_response"
    assert "not JSON" in truncated.headers["dlq.reason"]
    assert truncated.value["body_excerpt"].startswith('{"response":')

    mistyped = dead[str(wrong)]
    assert mistyped.headers["dlq.reason_code"] == "malformed_response"
    assert "player_count 'many' is not a count" in mistyped.headers["dlq.reason"]
    assert '"player_count":"many"' in mistyped.value["body_excerpt"]

    meta = _meta(result, "player_counts")
    assert meta["dead_lettered"] == 3
    assert meta["dead_lettered_reasons"] == {"oversized": 1, "malformed_response": 2}
    assert set(meta["dead_lettered_items"]) == set(dead)
    assert meta["events_per_topic"] == {
        sources.PLAYER_COUNTS.topic: len(apps) - 3,
        sources.DEAD_LETTER_TOPIC: 3,
    }


def test_news_with_an_oversized_post_and_a_title_of_the_wrong_type(
    sim: SimAdmin, kafka: KafkaResource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The contract layer: a wrong-typed field the reader passes through is caught by the payload
    contract; an oversized post is measured against the producer's `message.max.bytes`."""
    day = (datetime.now(UTC) - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = int(day.timestamp()), int((day + timedelta(days=1)).timestamp())
    steam = sim.steam(tmp_path / "budget")
    client = steam.client()
    catalogue = sorted(a["appid"] for page in client.app_list(max_results=50_000) for a in page.apps)
    posts: dict[int, set[str]] = {}
    for appid in catalogue[:400]:
        day_posts = {
            i["gid"] for i in client.news_page(appid, enddate=end, count=10).items if i["date"] >= start
        }
        if day_posts:
            posts[appid] = day_posts
        if len(posts) == 12:
            break
    assert len(posts) == 12, "the simulator publishes news on most days"
    apps = sorted(posts)
    _track(monkeypatch, tmp_path, apps)
    big, mistyped = apps[3], apps[8]
    sim.reset()
    sim.set_faults(
        [
            {
                "endpoint": NEWS,
                "kind": "oversized",
                "field": "contents",
                "size_bytes": 150_000,
                "appids": [big],
            },
            {"endpoint": NEWS, "kind": "wrong_type", "field": "title", "appids": [mistyped]},
        ]
    )
    small_producer = KafkaResource(bootstrap_servers=kafka.bootstrap_servers, max_message_bytes=100_000)
    window = TopicWindow(kafka, sources.NEWS.topic, sources.DEAD_LETTER_TOPIC)

    result = dg.materialize(
        [news],
        partition_key=day.strftime("%Y-%m-%d"),
        resources={"steam": steam, "kafka": small_producer},
        run_config={"ops": {"news": {"config": {"page_size": 10}}}},
    )

    assert result.success
    got = Counter(r.value["payload"]["gid"] for r in window.records(sources.NEWS.topic))
    expected = {gid for appid in apps if appid not in (big, mistyped) for gid in posts[appid]}
    assert set(got) == expected and set(got.values()) == {1}
    dead = window.records(sources.DEAD_LETTER_TOPIC)
    by_code = Counter((r.key, r.headers["dlq.reason_code"]) for r in dead)
    assert by_code == {
        (str(big), "oversized"): len(posts[big]),
        (str(mistyped), "contract"): len(posts[mistyped]),
    }
    contract = [r for r in dead if r.headers["dlq.reason_code"] == "contract"]
    assert all("title: Input should be a valid string" in r.headers["dlq.reason"] for r in contract)
    assert {r.value["payload"]["gid"] for r in contract} == posts[mistyped]  # the whole envelope kept
    assert all(r.value["limit_bytes"] == 100_000 for r in dead if r.headers["dlq.reason_code"] == "oversized")
    meta = _meta(result, "news")
    assert meta["dead_lettered"] == len(dead)
    assert meta["dead_lettered_reasons"] == {"oversized": len(posts[big]), "contract": len(posts[mistyped])}


def test_a_topic_limit_below_the_producers_is_read_and_never_exceeded(kafka: KafkaResource) -> None:
    """The topic's own `max.message.bytes` wins over the producer's; records right at the limit are
    taken (the size measure is not too strict) and batches of them are too (the producer's batches
    shrink to the limit); one byte more is refused before anything is produced."""
    limit = 20_000
    topic = f"test.small-records-{os.getpid()}"
    kafka.ensure_topics([TopicSpec(topic, partitions=1, extra_config={"max.message.bytes": str(limit)})])
    fresh = KafkaResource(bootstrap_servers=kafka.bootstrap_servers)
    assert fresh.record_limits([topic]) == {topic: limit}

    def record(key: str, size: int) -> OutgoingMessage:
        message = OutgoingMessage(topic, key, b"")
        return OutgoingMessage(topic, key, os.urandom(size - record_size(message)))  # incompressible

    at_limit = [record(f"k{i}", limit) for i in range(30)]  # 600 kB: many batches' worth
    assert all(record_size(m) == limit for m in at_limit)
    before = watermarks(kafka, topic)
    summary = fresh.produce_all(at_limit)
    assert summary.per_topic() == {topic: 30}

    with pytest.raises(RecordTooLarge, match=f"{limit + 1} > {limit}"):
        fresh.produce_all([record("small", 1000), record("big", limit + 1)])
    assert sum(watermarks(kafka, topic).values()) == sum(before.values()) + 30, "nothing of the refused batch"
    admin = kafka.admin()
    admin.delete_topics([topic], operation_timeout=30)[topic].result(timeout=30)
