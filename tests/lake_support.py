"""Helpers of the lake tests: envelopes as the ingest assets produce them, lake reads."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg

from steam_platform.assets.lake.refresh_events import RANGE_END_TAG, RANGE_START_TAG
from steam_platform.events.envelope import envelope
from steam_platform.resources.kafka import KafkaResource, OutgoingMessage
from steam_platform.resources.s3 import S3Resource
from streaming.lake_paths import checkpoint_path

SRC_PLAYERS = "ISteamUserStats/GetNumberOfCurrentPlayers/v1"
SRC_NEWS = "ISteamNews/GetNewsForApp/v2"
SRC_DETAILS = "store/api/appdetails"
SRC_CATALOG = "IStoreService/GetAppList/v1"
SRC_RECENT = "IPlayerService/GetRecentlyPlayedGames/v1"


def at(text: str) -> datetime:
    """`2026-10-01T23:30` -> aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def player_count_message(topic: str, appid: int, when: datetime, count: int | None) -> OutgoingMessage:
    """A GetNumberOfCurrentPlayers observation (count None: Steam's 'no match')."""
    payload: dict[str, Any] = {"appid": appid, "result": 1 if count is not None else 42}
    if count is not None:
        payload["player_count"] = count
    env = envelope(
        source=SRC_PLAYERS,
        natural_key=(appid, when.isoformat()),
        observed_at=when,
        partition_key=when.strftime("%Y-%m-%d-%H:00"),
        payload=payload,
    )
    return OutgoingMessage(topic, key=str(appid), value=env.to_json_bytes())


def news_message(
    topic: str, appid: int, gid: str, published: datetime, observed: datetime, **fields: Any
) -> OutgoingMessage:
    """A GetNewsForApp item observed at `observed`."""
    payload = {
        "gid": gid,
        "appid": appid,
        "title": fields.get("title", f"Post {gid}"),
        "url": f"https://store.example/news/{gid}",
        "author": "dev",
        "contents": fields.get("contents", "Hello <b>world</b>"),
        "feedlabel": "Community Announcements",
        "date": int(published.timestamp()),
        "feed_type": fields.get("feed_type", 1),
    }
    env = envelope(
        source=SRC_NEWS,
        natural_key=(gid,),
        observed_at=observed,
        partition_key=published.strftime("%Y-%m-%d"),
        payload=payload,
    )
    return OutgoingMessage(topic, key=str(appid), value=env.to_json_bytes())


def app_message(topic: str, appid: int, observed: datetime, source: str, **payload: Any) -> OutgoingMessage:
    """An app observation (catalogue entry or store details)."""
    env = envelope(
        source=source,
        natural_key=(appid, observed.isoformat()),
        observed_at=observed,
        partition_key=observed.strftime("%Y-%m-%d"),
        payload={"appid": appid, **payload},
    )
    return OutgoingMessage(topic, key=str(appid), value=env.to_json_bytes())


def playtime_message(
    topic: str, steamid: str, appid: int, observed: datetime, forever: int
) -> OutgoingMessage:
    """A recently-played entry of a tracked player."""
    env = envelope(
        source=SRC_RECENT,
        natural_key=(steamid, appid, observed.isoformat()),
        observed_at=observed,
        partition_key=observed.strftime("%Y-%m-%d-%H:00"),
        payload={"steamid": steamid, "appid": appid, "playtime_forever": forever, "playtime_2weeks": 30},
    )
    return OutgoingMessage(topic, key=steamid, value=env.to_json_bytes())


def produce(kafka: KafkaResource, messages: Iterable[OutgoingMessage]) -> int:
    """Produce and require every record acknowledged; returns the count."""
    batch = list(messages)
    assert kafka.produce_all(batch).acked_total == len(batch)
    return len(batch)


def raw_message(topic: str, value: bytes | None, key: str = "bad") -> OutgoingMessage:
    """A record that bypassed the envelope builder (for quarantine tests)."""
    return OutgoingMessage(topic, key=key, value=value if value is not None else b"")


def event_ids(messages: Iterable[OutgoingMessage]) -> set[str]:
    """The event ids inside produced envelopes."""
    return {json.loads(m.value)["event_id"] for m in messages}


def s3_for(stack_env: dict[str, str], bucket: str) -> S3Resource:
    """The stack's object store with the lake in `bucket`.

    Built from fields, not `model_copy`: Dagster re-creates a resource from the config it was
    constructed with, so a copied resource would still point runs at the original bucket.
    """
    return S3Resource(
        endpoint_url=stack_env["S3_ENDPOINT_URL"],
        region=stack_env["AWS_REGION"],
        access_key_id=stack_env["AWS_ACCESS_KEY_ID"],
        secret_access_key=stack_env["AWS_SECRET_ACCESS_KEY"],
        bucket=bucket,
    )


def committed_batches(s3: S3Resource, topic: str) -> int:
    """Micro-batches the topic's bronze query has committed (files under its checkpoint's `commits/`)."""
    prefix = checkpoint_path(s3.lake_root(), topic).split(f"{s3.bucket}/", 1)[1] + "/commits/"
    listing = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix=prefix)
    return sum(1 for o in listing.get("Contents", []) if o["Key"].rsplit("/", 1)[-1].isdigit())


def bronze_event_ids(s3: S3Resource, topic: str) -> list[str]:
    """The `event_id` of every row the topic's bronze dataset holds (one per row, duplicates kept)."""
    import pyarrow.dataset as pads

    dataset = pads.dataset(
        f"{s3.lake_path()}/bronze/{topic}", filesystem=s3.filesystem(), format="parquet", partitioning="hive"
    )
    return dataset.to_table(columns=["event_id"]).column("event_id").to_pylist()


def materialize_checked(
    assets: Sequence[Any],
    resources: Mapping[str, Any],
    days: Sequence[date] = (),
    run_config: Mapping[str, Any] | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialise `assets` unpartitioned, for one day, or for a range of days in ONE run (the tags
    a backfill's single run carries); the run and every ERROR-severity asset check must succeed (a
    WARN check, such as recorded player-count gaps, reports data and is the caller's to judge)."""
    first, last = (days[0].isoformat(), days[-1].isoformat()) if days else (None, None)
    result = dg.materialize(
        list(assets),
        resources=dict(resources),
        partition_key=first if first == last else None,
        tags={RANGE_START_TAG: first, RANGE_END_TAG: last} if first != last else None,
        raise_on_error=False,
        run_config=dict(run_config) if run_config is not None else None,
    )
    failed = [
        e
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity is dg.AssetCheckSeverity.ERROR
    ]
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    assert not failed, [(e.asset_key.to_user_string(), e.check_name, e.description) for e in failed]
    return result
