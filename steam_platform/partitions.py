"""Time partitions shared by every layer, so partition mappings between layers line up.

Hourly for what is polled several times an hour (player counts, player activity), daily for
everything else (news, catalogue, warehouse facts, marts, search indices). All in UTC.
"""

import dagster as dg

PARTITIONS_START = "2026-10-01"

hourly_partitions = dg.HourlyPartitionsDefinition(start_date=f"{PARTITIONS_START}-00:00", timezone="UTC")
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC")
