"""The soak's year of history in the instance (`benchmarks/instance_history.py`): every hourly and
daily asset of the code location gets its partitions of each day before today, nothing else."""

from __future__ import annotations

from datetime import date

import dagster as dg
from instance_history import history_days, seed_history, time_partitioned_assets

from steam_platform.definitions import defs as platform_defs

DAILY = dg.DailyPartitionsDefinition(start_date="2026-01-01")
HOURLY = dg.HourlyPartitionsDefinition(start_date="2026-01-01-00:00")


@dg.asset(partitions_def=HOURLY)
def hourly_poll() -> None:
    """An hourly asset (a poll)."""


@dg.asset(partitions_def=DAILY)
def daily_fact() -> None:
    """A daily asset."""


@dg.asset(partitions_def=DAILY, deps=[daily_fact])
def daily_mart() -> None:
    """Another, downstream."""


@dg.asset
def whole_table() -> None:
    """Not partitioned: a year of history does not touch it."""


def test_every_daily_asset_gets_each_day_before_today() -> None:
    defs = dg.Definitions(assets=[daily_fact, daily_mart, hourly_poll, whole_table])
    assets = time_partitioned_assets(defs)
    assert list(assets) == [dg.AssetKey("daily_fact"), dg.AssetKey("daily_mart"), dg.AssetKey("hourly_poll")]
    days = history_days(3, today=date(2026, 3, 1))
    assert days == [date(2026, 2, 26), date(2026, 2, 27), date(2026, 2, 28)]  # today is still open
    with dg.DagsterInstance.ephemeral() as instance:
        seen: list[date] = []
        assert seed_history(instance, assets, days, on_day=seen.append) == 2 * 3 + 24 * 3
        assert seen == days
        for key in (dg.AssetKey("daily_fact"), dg.AssetKey("daily_mart")):
            assert instance.get_materialized_partitions(key) == {d.isoformat() for d in days}
        hours = instance.get_materialized_partitions(dg.AssetKey("hourly_poll"))
        assert len(hours) == 72 and min(hours) == "2026-02-26-00:00" and max(hours) == "2026-02-28-23:00"
        assert instance.get_latest_materialization_event(dg.AssetKey("whole_table")) is None


def test_the_platforms_built_layers_are_what_a_year_fills() -> None:
    names = {key.to_user_string() for key in time_partitioned_assets(platform_defs)}
    assert {"fact_player_counts", "dim_app", "mart_game_daily", "search_game_daily"} <= names
    assert "kafka_topics" not in names  # not partitioned by time
    # The ingest is what the lake's sensor reacts to: a seeded poll would ask for a lake run of it.
    assert not {"player_counts", "news", "app_details"} & names
