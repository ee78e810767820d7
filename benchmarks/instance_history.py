"""A Dagster instance that remembers a year: every hourly and daily partition materialised.

The daemon's cost per tick (automation conditions, sensors, the asset graph's partition status)
may grow with what the instance holds, not with what the lake holds. A user who ran
`steam-platform history --build-layers`, or a year of polls, has every time-partitioned asset
materialised for every day; `benchmarks/soak.py --partitions-days N --seed-history` starts the
platform on such an instance, with the same code location as a fresh one (`STEAM_PARTITIONS_START`
N days back for both), so the two soaks' CPU differ only by that history.

The lake's layers and search are seeded, not the ingest (`NOT_SEEDED_GROUPS` says why). The
materialisations are runless events (`report_runless_asset_event`): the event log the daemon
reads holds one materialisation per asset and partition, as runs would have left (their run
records are not the automation's input; the lake itself stays empty).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta

import dagster as dg

TimePartitions = dg.TimeWindowPartitionsDefinition


#: Asset groups a year of history does not seed: the ingest assets' materialisations are what
#: `lake_refresh_sensor` reacts to after its cursor, which after a real year is past all of them;
#: seeded now, they would ask for lake runs of data that never reached Kafka.
NOT_SEEDED_GROUPS = frozenset({"ingest"})


def time_partitioned_assets(defs: dg.Definitions) -> dict[dg.AssetKey, TimePartitions]:
    """The code location's assets partitioned by time (hour or day) that the automation builds:
    what a year of history fills (the lake's layers and search; not the ingest, see above)."""
    graph = defs.resolve_asset_graph()
    found = {
        key: graph.get(key).partitions_def
        for key in graph.get_all_asset_keys()
        if graph.get(key).group_name not in NOT_SEEDED_GROUPS
    }
    return {
        key: part
        for key, part in sorted(found.items(), key=lambda item: item[0].to_user_string())
        if isinstance(part, dg.TimeWindowPartitionsDefinition)
    }


def history_days(days: int, today: date) -> list[date]:
    """The `days` UTC days before `today` (today's partitions are not closed yet), oldest first."""
    return [today - timedelta(days=offset) for offset in range(days, 0, -1)]


def partition_keys_of_day(partitions: TimePartitions, day: date) -> list[str]:
    """The keys of `partitions` whose window starts on `day` (one for daily, 24 for hourly)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    keys = partitions.get_partition_keys(current_time=end)
    return [k for k in keys if start <= partitions.time_window_for_partition_key(k).start < end]


def seed_history(
    instance: dg.DagsterInstance,
    assets: Mapping[dg.AssetKey, TimePartitions],
    days: list[date],
    on_day: Callable[[date], None] = lambda _: None,
) -> int:
    """Record a materialisation of every asset's partitions of every day; returns how many."""
    recorded = 0
    for day in days:
        for key, partitions in assets.items():
            for partition in partition_keys_of_day(partitions, day):
                instance.report_runless_asset_event(
                    dg.AssetMaterialization(
                        asset_key=key, partition=partition, metadata={"seeded_history": True}
                    )
                )
                recorded += 1
        on_day(day)
    return recorded


def main() -> None:
    """Seed the instance of `DAGSTER_HOME` (its process, so the code location's partitions start
    where this process's `STEAM_PARTITIONS_START` says: the module reads it when first imported)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, required=True, help="days before today to materialise")
    args = parser.parse_args()
    from steam_platform.definitions import defs

    assets = time_partitioned_assets(defs)
    started = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        recorded = seed_history(instance, assets, history_days(args.days, datetime.now(UTC).date()))
    took = time.monotonic() - started
    print(f"seeded {recorded} materialisations ({len(assets)} assets, {args.days} days) in {took:.0f}s")


if __name__ == "__main__":
    main()
