"""`player_counts`: a snapshot of current players of every tracked app, appended to its hour.

Polled every few minutes by a schedule. A snapshot is of *now*, so it cannot be backfilled; its
natural key is (appid, poll slot) where the slot is the poll time rounded down to the poll
interval. The schedule passes the slot as a run tag, so a re-executed run re-produces the same
event ids; without the tag the slot comes from the clock.
"""

from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from steam_platform.assets.ingest.common import IngestRun, ingest_asset
from steam_platform.core import sources
from steam_platform.core.cadence import DEFAULT_POLL_INTERVAL_MINUTES
from steam_platform.core.partitions import hourly_partitions
from steam_platform.core.tracked import load_tracked
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.steam import EP_PLAYERS, PATHS
from steam_platform.resources.steam_api import SteamApiResource

#: Run tag carrying the poll slot (ISO-8601 UTC) chosen by the schedule.
POLL_SLOT_TAG = "steam_platform/poll_slot"


class PlayerCountsConfig(dg.Config):
    """How the snapshot is keyed: the poll interval the schedule runs at."""

    poll_interval_minutes: int = Field(default=DEFAULT_POLL_INTERVAL_MINUTES, ge=1, le=60)


def poll_slot(moment: datetime, interval_minutes: int) -> datetime:
    """`moment` rounded down to the poll interval (UTC), e.g. 10:27 -> 10:20 for 10 minutes."""
    moment = moment.astimezone(UTC)
    minutes = (moment.hour * 60 + moment.minute) // interval_minutes * interval_minutes
    return moment.replace(hour=minutes // 60, minute=minutes % 60, second=0, microsecond=0)


def _slot_for_run(context: dg.AssetExecutionContext, interval: int, now: datetime) -> datetime:
    tag = context.run.tags.get(POLL_SLOT_TAG)
    slot = datetime.fromisoformat(tag).astimezone(UTC) if tag else poll_slot(now, interval)
    window = context.partition_time_window
    if not (window.start <= slot < window.end):
        raise dg.Failure(
            description=(
                f"player counts are a snapshot of now: poll slot {slot.isoformat()} is outside "
                f"partition {context.partition_key} ({window.start.isoformat()} - {window.end.isoformat()}); "
                "past hours cannot be backfilled"
            ),
            allow_retries=False,
        )
    return slot


@ingest_asset(hourly_partitions)
def player_counts(
    context: dg.AssetExecutionContext,
    config: PlayerCountsConfig,
    steam: SteamApiResource,
    kafka: KafkaResource,
) -> dg.MaterializeResult:
    """Current players of every tracked app (one snapshot per poll), to `steam.player_counts`.

    Feeds the player curves, peaks and "most played now" rankings. Unknown or unreleased apps are
    data (`live: false`), not errors; apps whose request fails are skipped and listed in metadata.
    """
    run = IngestRun(context, steam, kafka)
    slot = _slot_for_run(context, config.poll_interval_minutes, run.now)
    apps = load_tracked().apps
    batch = run.batch(sources.PLAYER_COUNTS.topic, PATHS[EP_PLAYERS].rstrip("/"))
    not_live = 0
    with run.collecting():
        for appid, result in run.fetch_each(apps, run.client.current_players, skipped=batch):
            not_live += not result.live
            batch.add(str(appid), (appid, slot.isoformat()), result.payload(), observed_at=run.now)
    return run.publish(
        [batch],
        extra={
            "poll_slot": slot.isoformat(),
            "apps_tracked": len(apps),
            "apps_not_live": not_live,
            "poll_interval_minutes": config.poll_interval_minutes,
        },
    )
