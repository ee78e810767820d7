"""Time partitions shared by every layer, so partition mappings between layers line up.

Hourly for what is polled several times an hour (player counts, player activity), daily for
everything else (news, catalogue, warehouse facts, marts, search indices). All in UTC.

`end_offset=1` makes the period in progress a partition too: the poll schedule appends snapshots to
the current hour as it happens, and the daily layers can be built for today (refreshed as the day
fills) as well as for closed days.
"""

import dagster as dg

PARTITIONS_START = "2026-10-01"

hourly_partitions = dg.HourlyPartitionsDefinition(
    start_date=f"{PARTITIONS_START}-00:00", timezone="UTC", end_offset=1
)
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC", end_offset=1)
