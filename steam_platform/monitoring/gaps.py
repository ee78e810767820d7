"""Recorded player-count gaps of the last 24 hours: polls that were missed and can never be made.

Read from the instance, not the lake: each `mart_player_count_gaps` materialisation carries
`gaps_by_hour` ({hour: rows, missed polls}) in its metadata (`assets/marts/gap_summary.py`), so a
scrape costs two event-log queries (the newest materialisation of today's and yesterday's
partition) and needs neither S3 nor Spark. A range run's metadata covers all its days; each
partition contributes only the hours of its own day, from its newest build (today's partition is
rebuilt by every lake run, so its record replaces the earlier ones).

The window is the 24 hours before the scrape: an hour counts when it overlaps them. The newest
gap hour is exported too, so the alert can say "polls were missed recently" and resolve once the
platform polls again, while the 24-hour counts stay on the dashboard.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import dagster as dg
from dagster import DagsterInstance
from prometheus_client.core import GaugeMetricFamily

from steam_platform.assets.marts.gap_summary import GAPS_BY_HOUR, gap_hours
from steam_platform.assets.marts.tables import MART_PLAYER_COUNT_GAPS

GAPS_ASSET = dg.AssetKey(MART_PLAYER_COUNT_GAPS.name)
WINDOW = timedelta(hours=24)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class GapHour:
    """One UTC hour with recorded gaps: how many apps missed polls in it, and how many polls."""

    start: datetime
    apps: int
    missed: int


def _newest_build(instance: DagsterInstance, day: date) -> dg.AssetMaterialization | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=GAPS_ASSET, asset_partitions=[day.isoformat()]), limit=1
    ).records
    return records[0].asset_materialization if records else None


def recent_gap_hours(instance: DagsterInstance, now: datetime) -> list[GapHour]:
    """The hours overlapping the 24 hours before `now` that have recorded gaps, oldest first."""
    since = now - WINDOW
    hours: list[GapHour] = []
    for day in sorted({since.date(), now.date()}):
        built = _newest_build(instance, day)
        if built is None:
            continue
        for hour_iso, entry in gap_hours(built.metadata.get(GAPS_BY_HOUR)).items():
            start = datetime.fromisoformat(hour_iso).astimezone(UTC)
            if start.date() == day and start + HOUR > since and start <= now:
                hours.append(GapHour(start, int(entry["apps"]), int(entry["missed"])))
    return sorted(hours, key=lambda h: h.start)


def gap_metrics(instance: DagsterInstance, now: float | None = None) -> Iterator[GaugeMetricFamily]:
    """`steam_player_count_gap_rows`, `steam_player_count_missed_polls` (last 24 h) and
    `steam_player_count_newest_gap_hour_timestamp_seconds` (absent when no gap was recorded)."""
    moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    hours = recent_gap_hours(instance, moment)
    rows = GaugeMetricFamily(
        "steam_player_count_gap_rows",
        "(app, hour) rows with missed player-count polls recorded for the last 24 hours",
    )
    missed = GaugeMetricFamily(
        "steam_player_count_missed_polls", "Player-count polls recorded as missed in the last 24 hours"
    )
    newest = GaugeMetricFamily(
        "steam_player_count_newest_gap_hour_timestamp_seconds",
        "Start of the newest UTC hour with a missed player-count poll (Unix time)",
    )
    rows.add_metric([], sum(h.apps for h in hours))
    missed.add_metric([], sum(h.missed for h in hours))
    if hours:
        newest.add_metric([], hours[-1].start.timestamp())
    yield rows
    yield missed
    yield newest
