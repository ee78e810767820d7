"""Ingest assets end to end: the simulator over HTTP -> Dagster materialisations -> real Kafka.

Runs against the local stack's Kafka (and its `simulator` service when the stack has one; else an
in-process simulator on a free port, still over HTTP). Each test reads back exactly the offsets its
runs added, so tests sharing the platform's topics in one session do not see each other's data.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from ingest_support import SimAdmin, TopicWindow, clean_sim, read_between, sim, watermarks

from steam_platform.assets.bus.topics import kafka_topics
from steam_platform.assets.ingest.common import CONSECUTIVE_UNAVAILABLE_LIMIT
from steam_platform.assets.ingest.definitions import (
    app_catalog,
    app_details,
    news,
    player_activity,
    player_counts,
)
from steam_platform.assets.ingest.players import POLL_SLOT_TAG, poll_slot
from steam_platform.core import sources
from steam_platform.core.partitions import daily_partitions, hourly_partitions
from steam_platform.core.tracked import load_tracked
from steam_platform.events.envelope import make_event_id
from steam_platform.resources.kafka import KafkaResource

pytestmark = pytest.mark.integration
__all__ = ["clean_sim", "sim"]  # fixtures shared with the other Steam tests


@pytest.fixture(scope="module")
def kafka(stack_env: dict[str, str]) -> KafkaResource:
    kafka = KafkaResource(bootstrap_servers=stack_env["KAFKA_BOOTSTRAP_SERVERS"])
    result = dg.materialize([kafka_topics], resources={"kafka": kafka})
    assert result.success
    return kafka


def _meta(result: dg.ExecuteInProcessResult, node: str) -> dict[str, Any]:
    (materialization,) = result.asset_materializations_for_node(node)
    return {k: v.value for k, v in materialization.metadata.items()}


def _current_hour() -> tuple[str, str]:
    now = datetime.now(UTC)
    slot = poll_slot(now, 10)
    return hourly_partitions.get_partition_key_for_timestamp(slot.timestamp()), slot.isoformat()


def test_player_counts_spread_over_partitions_nothing_lost_and_ids_stable(
    sim: SimAdmin, kafka: KafkaResource, tmp_path: Path
) -> None:
    apps = load_tracked().apps
    assert len(apps) >= 100
    partition, slot = _current_hour()
    resources = {"steam": sim.steam(tmp_path), "kafka": kafka}
    window = TopicWindow(kafka, sources.PLAYER_COUNTS.topic)
    first = dg.materialize(
        [player_counts], partition_key=partition, resources=resources, tags={POLL_SLOT_TAG: slot}
    )
    assert first.success
    meta = _meta(first, "player_counts")
    records = window.records(sources.PLAYER_COUNTS.topic)

    assert (
        meta["events_per_topic"]
        == {sources.PLAYER_COUNTS.topic: len(apps)}
        == {sources.PLAYER_COUNTS.topic: len(records)}
    )
    per_partition = Counter(r.partition for r in records)
    assert {
        int(p): n for p, n in meta["events_per_partition"][sources.PLAYER_COUNTS.topic].items()
    } == per_partition
    assert sorted(per_partition) == list(range(6)), per_partition
    assert max(per_partition.values()) <= 2 * len(records) / 6, per_partition
    assert (
        meta["steam_calls"]
        == len(apps)
        == sim.calls()["by_endpoint"]["ISteamUserStats/GetNumberOfCurrentPlayers"]
    )
    assert meta["budget_used_today"] == len(apps) and meta["skipped_count"] == 0
    assert {r.key for r in records} == {str(a) for a in apps}
    for record in records:
        envelope = record.value
        assert envelope["partition_key"] == partition and envelope["schema_version"] == 1
        assert envelope["payload"]["appid"] == int(record.key)
        assert envelope["event_id"] == make_event_id(
            "ISteamUserStats/GetNumberOfCurrentPlayers/v1", int(record.key), slot
        )

    again = TopicWindow(kafka, sources.PLAYER_COUNTS.topic)
    rerun = dg.materialize(
        [player_counts], partition_key=partition, resources=resources, tags={POLL_SLOT_TAG: slot}
    )
    assert rerun.success
    assert sorted(r.value["event_id"] for r in again.records(sources.PLAYER_COUNTS.topic)) == sorted(
        r.value["event_id"] for r in records
    )


def test_a_past_hour_cannot_be_snapshotted(sim: SimAdmin, kafka: KafkaResource, tmp_path: Path) -> None:
    result = dg.materialize(
        [player_counts],
        partition_key="2026-10-01-00:00",
        resources={"steam": sim.steam(tmp_path), "kafka": kafka},
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "cannot be backfilled" in str(failure.step_failure_data.error)
    assert sim.calls()["total"] == 0


def test_429_storm_with_and_without_retry_after_completes_within_budget(
    sim: SimAdmin, kafka: KafkaResource, tmp_path: Path
) -> None:
    endpoint = "ISteamUserStats/GetNumberOfCurrentPlayers"
    sim.set_faults(
        [
            {"endpoint": endpoint, "kind": "429", "count": 5, "retry_after": 1},
            {"endpoint": endpoint, "kind": "429", "count": 60, "probability": 0.3},
            {"endpoint": endpoint, "kind": "503", "count": 10, "probability": 0.1},
        ]
    )
    apps = load_tracked().apps
    budget = 400
    partition, slot = _current_hour()
    # An app's calls may meet the 5 forced 429s and then the random faults (p = 1 - 0.7 * 0.9 =
    # 0.37 per call): 12 attempts left 7 random draws, all faulted about once in 1,000 runs (CI met
    # it); 20 attempts leave 15 (3e-7), so a skip here means a bug, not bad luck.
    steam = sim.steam(tmp_path, daily_call_budget=budget, max_attempts=20)
    window = TopicWindow(kafka, sources.PLAYER_COUNTS.topic)
    result = dg.materialize(
        [player_counts],
        partition_key=partition,
        resources={"steam": steam, "kafka": kafka},
        tags={POLL_SLOT_TAG: slot},
    )
    assert result.success
    meta = _meta(result, "player_counts")
    calls = sim.calls()["by_endpoint"][endpoint]
    detail = meta["steam_calls_detail"]
    assert detail["http_429"] >= 5 and detail["retries"] == calls - len(apps) > 0
    assert meta["steam_calls"] == calls <= budget
    assert meta["budget_used_today"] == calls
    assert meta["skipped_count"] == 0
    assert len(window.records(sources.PLAYER_COUNTS.topic)) == len(apps)


def test_malformed_json_skips_that_app_and_the_run_goes_on(
    sim: SimAdmin, kafka: KafkaResource, tmp_path: Path
) -> None:
    apps = load_tracked().apps
    broken = [apps[0], apps[1]]
    sim.set_faults(
        [
            {"endpoint": "ISteamUserStats/GetNumberOfCurrentPlayers", "kind": "bad_json", "appids": broken},
            {"endpoint": "ISteamUserStats/GetNumberOfCurrentPlayers", "kind": "html", "appids": [apps[2]]},
        ]
    )
    partition, slot = _current_hour()
    window = TopicWindow(kafka, sources.PLAYER_COUNTS.topic)
    result = dg.materialize(
        [player_counts],
        partition_key=partition,
        resources={"steam": sim.steam(tmp_path), "kafka": kafka},
        tags={POLL_SLOT_TAG: slot},
    )
    assert result.success
    meta = _meta(result, "player_counts")
    skipped = meta["skipped"]
    assert set(skipped) == {str(a) for a in [*broken, apps[2]]}
    assert all(reason.startswith("malformed_response") for reason in skipped.values())
    assert meta["skipped_reasons"] == {"malformed_response": 3}
    records = window.records(sources.PLAYER_COUNTS.topic)
    assert len(records) == len(apps) - 3 and str(apps[0]) not in {r.key for r in records}


def _all_output(result: dg.ExecuteInProcessResult, caplog: pytest.LogCaptureFixture, capsys: Any) -> str:
    parts = [caplog.text, *(r.getMessage() for r in caplog.records)]
    for event in result.all_events:
        parts.append(str(event))
        if event.is_step_failure:
            parts.append(event.step_failure_data.error.to_string())
    captured = capsys.readouterr()
    return "\n".join([*parts, captured.out, captured.err])


def test_bad_key_fails_clearly_and_the_key_appears_nowhere(
    sim: SimAdmin,
    kafka: KafkaResource,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    bad_key = "BADKEY0123456789ABCDEF0123456789"
    partition, _ = _current_hour()
    result = dg.materialize(
        [player_activity],
        partition_key=partition,
        resources={"steam": sim.steam(tmp_path, api_key=bad_key), "kafka": kafka},
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.to_string()
    assert "bad_key" in message and "refused the API key" in message and "STEAM_API_KEY" in message
    assert sim.calls()["total"] == 1  # the first call was refused and never retried
    assert bad_key not in _all_output(result, caplog, capsys)


def test_player_activity_and_apps_with_a_key(sim: SimAdmin, kafka: KafkaResource, tmp_path: Path) -> None:
    tracked = load_tracked()
    partition, _ = _current_hour()
    day = daily_partitions.get_partition_key_for_timestamp(datetime.now(UTC).timestamp())
    resources = {"steam": sim.steam(tmp_path), "kafka": kafka}
    window = TopicWindow(kafka, sources.PLAYTIME.topic, sources.APPS.topic)
    activity = dg.materialize([player_activity], partition_key=partition, resources=resources)
    apps = dg.materialize([app_catalog, app_details], partition_key=day, resources=resources)
    assert activity.success and apps.success

    meta = _meta(activity, "player_activity")
    playtime = window.records(sources.PLAYTIME.topic)
    assert meta["events_per_topic"] == {sources.PLAYTIME.topic: len(playtime)} and playtime
    private = meta["players_not_visible"]
    assert 0 < private < len(tracked.players)
    assert {r.key for r in playtime} <= set(tracked.players)
    assert len({r.key for r in playtime}) == len(tracked.players) - private
    assert all(r.value["payload"]["steamid"] == r.key and isinstance(r.key, str) for r in playtime)
    assert len({r.partition for r in playtime}) > 1

    app_records = window.records(sources.APPS.topic)
    catalog_meta, details_meta = _meta(apps, "app_catalog"), _meta(apps, "app_details")
    assert catalog_meta["pages"] >= 1 and details_meta["apps_tracked"] == len(tracked.apps)
    by_source = Counter(r.value["source"] for r in app_records)
    assert by_source["IStoreService/GetAppList/v1"] == catalog_meta["events_per_topic"][sources.APPS.topic]
    assert by_source["store/api/appdetails"] == details_meta["events_per_topic"][sources.APPS.topic]
    assert details_meta["events_per_topic"][sources.APPS.topic] + details_meta["skipped_count"] == len(
        tracked.apps
    )
    assert sim.calls()["by_endpoint"]["store/appdetails"] == len(tracked.apps)
    events_text = "\n".join(str(e) for e in [*activity.all_events, *apps.all_events])
    assert sim.api_key not in events_text  # the key was used, and is in no event or metadata


def test_keyed_assets_are_skipped_with_a_clear_message_without_a_key(
    sim: SimAdmin, kafka: KafkaResource, tmp_path: Path
) -> None:
    day = daily_partitions.get_partition_key_for_timestamp(datetime.now(UTC).timestamp())
    result = dg.materialize(
        [app_catalog],
        partition_key=day,
        resources={"steam": sim.steam(tmp_path, api_key=None), "kafka": kafka},
    )
    assert result.success
    meta = _meta(result, "app_catalog")
    assert "STEAM_API_KEY is not set" in meta["skipped_reason"] and meta["events_total"] == 0
    assert sim.calls()["total"] == 0


def test_seven_day_news_backfill_produces_every_post_of_each_day(
    sim: SimAdmin, kafka: KafkaResource, tmp_path: Path
) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days = [today - timedelta(days=d) for d in range(7, 0, -1)]
    tracked = load_tracked().apps
    steam = sim.steam(tmp_path)
    # Expected posts straight from the simulator: one big page per app covering the week.
    client = sim.steam(tmp_path / "expected").client()
    start, end = int(days[0].timestamp()), int(today.timestamp())
    expected: dict[str, str] = {}
    for appid in tracked:
        for item in client.news_page(appid, enddate=end, count=1000).items:
            if start <= item["date"] < end:
                day_key = datetime.fromtimestamp(item["date"], UTC).strftime("%Y-%m-%d")
                expected[item["gid"]] = day_key
    assert len(set(expected.values())) >= 5  # news on most days of the week

    window = TopicWindow(kafka, sources.NEWS.topic)
    for day in days:
        result = dg.materialize(
            [news], partition_key=day.strftime("%Y-%m-%d"), resources={"steam": steam, "kafka": kafka}
        )
        assert result.success
    records = window.records(sources.NEWS.topic)
    got = {r.value["payload"]["gid"]: r.value["partition_key"] for r in records}
    assert got == expected
    assert len(records) == len(expected)  # no duplicates across day boundaries
    assert all(
        r.value["event_id"] == make_event_id("ISteamNews/GetNewsForApp/v2", r.value["payload"]["gid"])
        for r in records
    )
    assert all(isinstance(r.value["payload"]["gid"], str) for r in records)
    assert len({r.partition for r in records}) == 6


def test_invalid_payloads_go_to_the_dlq_with_the_reason(kafka: KafkaResource) -> None:
    from steam_platform.assets.ingest.common import EventBatch

    batch = EventBatch(sources.NEWS.topic, "ISteamNews/GetNewsForApp/v2", "2026-11-01")
    now = datetime.now(UTC)
    batch.add("570", ("1",), {"gid": "1", "appid": 570, "title": "ok", "url": "u", "date": 5}, now)
    batch.add("570", ("x",), {"gid": "not-a-number", "appid": 570, "title": "t", "url": "u", "date": 5}, now)
    window = TopicWindow(kafka, sources.NEWS.topic, sources.DEAD_LETTER_TOPIC)
    summary = kafka.produce_all(batch.messages)
    assert (
        summary.per_topic() == {sources.NEWS.topic: 1, sources.DEAD_LETTER_TOPIC: 1}
        and batch.dead_lettered == 1
    )
    (dead,) = window.records(sources.DEAD_LETTER_TOPIC)
    assert dead.headers["dlq.intended_topic"] == sources.NEWS.topic
    assert "gid" in dead.headers["dlq.reason"] and dead.key == "570"
    assert dead.value["payload"]["gid"] == "not-a-number"  # nothing lost: the whole envelope is kept


def test_runs_fail_only_when_steam_is_down_or_the_budget_is_used_up(
    sim: SimAdmin, kafka: KafkaResource, tmp_path: Path
) -> None:
    partition, slot = _current_hour()
    sim.set_faults([{"endpoint": "*", "kind": "503"}])
    down = dg.materialize(
        [player_counts],
        partition_key=partition,
        resources={"steam": sim.steam(tmp_path / "down", max_attempts=2), "kafka": kafka},
        tags={POLL_SLOT_TAG: slot},
        raise_on_error=False,
    )
    assert not down.success
    failure = next(e for e in down.all_events if e.is_step_failure)
    assert "unavailable: Steam looks down" in failure.step_failure_data.error.to_string()
    workers = 4
    assert sim.calls()["total"] <= (CONSECUTIVE_UNAVAILABLE_LIMIT + 2 * workers) * 2  # stopped early

    sim.reset()
    window = TopicWindow(kafka, sources.PLAYER_COUNTS.topic)
    exhausted = dg.materialize(
        [player_counts],
        partition_key=partition,
        resources={"steam": sim.steam(tmp_path / "budget", daily_call_budget=30), "kafka": kafka},
        tags={POLL_SLOT_TAG: slot},
        raise_on_error=False,
    )
    assert not exhausted.success
    failure = next(e for e in exhausted.all_events if e.is_step_failure)
    assert "budget_exhausted" in failure.step_failure_data.error.to_string()
    assert sim.calls()["total"] == 30
    assert len(window.records(sources.PLAYER_COUNTS.topic)) == 30  # what was fetched was still produced


def test_a_schedule_on_a_fresh_broker_creates_the_topics_it_needs(
    sim: SimAdmin, tmp_path: Path, stack_state_dir: Callable[[str], Path]
) -> None:
    """`make dev` on a new stack: the first scheduled poll runs before anyone materialised
    `kafka_topics`; the brokers never auto-create topics, so the ingest creates its own, with the
    platform's explicit partitions, instead of failing with "unknown topic"."""
    from steam_devstack.stack import LocalStack

    fresh = LocalStack(stack_state_dir("fresh-kafka"), only=["kafka"], prefer_default_ports=False)
    try:
        env = fresh.up()
        kafka = KafkaResource(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"])
        assert sources.NEWS.topic not in kafka.admin().list_topics(timeout=30).topics

        day = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")  # a whole day of news
        result = dg.materialize(
            [news], partition_key=day, resources={"steam": sim.steam(tmp_path), "kafka": kafka}
        )

        assert result.success
        topic = kafka.admin().list_topics(timeout=30).topics[sources.NEWS.topic]
        assert len(topic.partitions) == 6
        produced = _meta(result, "news")["events_per_topic"][sources.NEWS.topic]
        assert produced > 0
        assert (
            len(read_between(kafka, sources.NEWS.topic, {}, watermarks(kafka, sources.NEWS.topic)))
            == produced
        )
    finally:
        fresh.down(purge=True)
