"""The exporter's recorded-gap metrics (`steam_platform/monitoring/gaps.py`) on an ephemeral Dagster
instance: materialisations of `mart_player_count_gaps` are reported with the metadata the asset
writes (`gap_summary.materialization_metadata`), and the scrape counts the last 24 hours of them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import dagster as dg
from prometheus_client.core import Metric

from steam_platform.assets.marts.gap_summary import GapRow, materialization_metadata
from steam_platform.monitoring.gaps import GAPS_ASSET, gap_metrics

NOW = datetime(2026, 10, 3, 9, 30, tzinfo=UTC)


def value(families: Iterable[Metric], name: str) -> float | None:
    for family in families:
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    return None


def gap(appid: int, hour: datetime, missed: int) -> GapRow:
    return GapRow(appid, None, hour, missed, "")


def built(instance: dg.DagsterInstance, day: str, rows: list[GapRow]) -> None:
    """A materialisation of the mart's `day` partition, with the metadata a run over `rows` writes."""
    instance.report_runless_asset_event(
        dg.AssetMaterialization(GAPS_ASSET, partition=day, metadata=materialization_metadata(rows))
    )


def test_rows_and_missed_polls_of_the_last_24_hours_from_each_days_newest_build() -> None:
    today, yesterday = NOW.replace(hour=0, minute=0), NOW.replace(hour=0, minute=0) - timedelta(days=1)
    with dg.DagsterInstance.ephemeral() as instance:
        families = list(gap_metrics(instance, NOW.timestamp()))
        assert value(families, "steam_player_count_gap_rows") == 0  # nothing recorded: no gap
        assert value(families, "steam_player_count_newest_gap_hour_timestamp_seconds") is None

        old = yesterday + timedelta(hours=8)  # 08:00-09:00 yesterday ended 24.5 h ago: outside
        late = yesterday + timedelta(hours=9)  # 09:00-10:00 yesterday overlaps the window
        # A range run's build of yesterday also lists today's hours; only its own day counts.
        range_run = [gap(1, old, 6), gap(1, late, 2), gap(2, late, 1), gap(1, today + timedelta(hours=1), 6)]
        built(instance, yesterday.date().isoformat(), range_run)
        built(instance, today.date().isoformat(), [gap(1, today + timedelta(hours=1), 6)])
        built(instance, today.date().isoformat(), [gap(1, today + timedelta(hours=2), 1)])  # newest wins

        families = list(gap_metrics(instance, NOW.timestamp()))
        assert value(families, "steam_player_count_gap_rows") == 3  # (1, 2) at 09:00 yesterday, 1 today
        assert value(families, "steam_player_count_missed_polls") == 2 + 1 + 1
        newest = value(families, "steam_player_count_newest_gap_hour_timestamp_seconds")
        assert newest == (today + timedelta(hours=2)).timestamp()
