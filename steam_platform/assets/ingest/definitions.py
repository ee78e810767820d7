"""The ingest layer: partitioned assets that poll Steam and produce envelopes to Kafka, and when.

| asset | partitions | Steam endpoint | topic |
|---|---|---|---|
| `player_counts` | hourly (a snapshot per poll) | GetNumberOfCurrentPlayers | steam.player_counts |
| `news` | daily, backfillable | GetNewsForApp (`enddate` paging) | steam.news |
| `app_catalog` | daily | IStoreService/GetAppList (key) | steam.apps |
| `app_details` | daily | store appdetails | steam.apps |
| `player_activity` | hourly | GetRecentlyPlayedGames, GetOwnedGames (key) | steam.playtime |

Schedules (`schedules.py`) start the partitioned jobs; everything after ingest follows by itself.
"""

import dagster as dg

from steam_platform.assets.ingest.activity import player_activity
from steam_platform.assets.ingest.apps import app_catalog, app_details
from steam_platform.assets.ingest.news import news
from steam_platform.assets.ingest.players import player_counts
from steam_platform.assets.ingest.schedules import INGEST_JOBS, INGEST_SCHEDULES

defs = dg.Definitions(
    assets=[player_counts, news, app_catalog, app_details, player_activity],
    jobs=INGEST_JOBS,
    schedules=INGEST_SCHEDULES,
)
