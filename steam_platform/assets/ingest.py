"""The ingest layer: partitioned assets that poll Steam and produce envelopes to Kafka.

| asset | partitions | Steam endpoint | topic |
|---|---|---|---|
| `player_counts` | hourly (a snapshot per poll) | GetNumberOfCurrentPlayers | steam.player_counts |
| `news` | daily, backfillable | GetNewsForApp (`enddate` paging) | steam.news |
| `app_catalog` | daily | IStoreService/GetAppList (key) | steam.apps |
| `app_details` | daily | store appdetails | steam.apps |
| `player_activity` | hourly | GetRecentlyPlayedGames, GetOwnedGames (key) | steam.playtime |
"""

from steam_platform.assets.ingest_activity import player_activity
from steam_platform.assets.ingest_apps import app_catalog, app_details
from steam_platform.assets.ingest_news import news
from steam_platform.assets.ingest_players import player_counts

INGEST_ASSETS = [player_counts, news, app_catalog, app_details, player_activity]

__all__ = ["INGEST_ASSETS", "app_catalog", "app_details", "news", "player_activity", "player_counts"]
