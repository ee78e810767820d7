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

import os
from datetime import date

import dagster as dg

DEFAULT_PARTITIONS_START = "2026-10-01"
PARTITIONS_START_ENV = "STEAM_PARTITIONS_START"


def partitions_start() -> str:
    """The first partition day from `STEAM_PARTITIONS_START` (ISO date), else the default."""
    raw = os.environ.get(PARTITIONS_START_ENV, "").strip() or DEFAULT_PARTITIONS_START
    try:
        first = date.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(f"{PARTITIONS_START_ENV}={raw!r} is not a date (YYYY-MM-DD)") from exc
    if first > date.today():
        raise ValueError(f"{PARTITIONS_START_ENV}={raw!r} is in the future: nothing to partition yet")
    return first.isoformat()


PARTITIONS_START = partitions_start()

hourly_partitions = dg.HourlyPartitionsDefinition(
    start_date=f"{PARTITIONS_START}-00:00", timezone="UTC", end_offset=1
)
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC", end_offset=1)
