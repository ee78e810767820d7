"""Time partitions shared by every layer, so partition mappings between layers line up.

Hourly for what is polled several times an hour (player counts, player activity), daily for
everything else (news, catalogue, warehouse facts, marts, search indices). All in UTC.

`end_offset=1` makes the period in progress a partition too: the poll schedule appends snapshots to
the current hour as it happens, and the daily layers can be built for today (refreshed as the day
fills) as well as for closed days.

The first partition is configuration, not code: `STEAM_PARTITIONS_START` (a UTC date, default
2026-10-01) lets a user who tracks a game since 2012 backfill its news from then. It is read when
the code location loads, so every process of a deployment (webserver, daemon, run workers) must
see the same value.
"""

import dagster as dg

from steam_platform.core.settings import ScheduleSettings

DEFAULT_PARTITIONS_START: str = ScheduleSettings.model_fields["partitions_start"].default.isoformat()
PARTITIONS_START_ENV = ScheduleSettings.env_name("partitions_start")


def partitions_start() -> str:
    """The first partition day: `STEAM_PARTITIONS_START` (ISO date, not in the future), else the default."""
    return ScheduleSettings.load().partitions_start.isoformat()


PARTITIONS_START = partitions_start()

hourly_partitions = dg.HourlyPartitionsDefinition(
    start_date=f"{PARTITIONS_START}-00:00", timezone="UTC", end_offset=1
)
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC", end_offset=1)
