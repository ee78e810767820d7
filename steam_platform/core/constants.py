"""Names shared across layers: asset groups and Kafka topics."""

from __future__ import annotations

from typing import Final

GROUP_BUS: Final = "bus"
GROUP_INGEST: Final = "ingest"
GROUP_LAKE: Final = "lake"
GROUP_WAREHOUSE: Final = "warehouse"
GROUP_MARTS: Final = "marts"
GROUP_SEARCH: Final = "search"

TOPIC_PLAYER_COUNTS: Final = "steam.player_counts"
TOPIC_NEWS: Final = "steam.news"
TOPIC_APPS: Final = "steam.apps"
TOPIC_PLAYTIME: Final = "steam.playtime"
TOPIC_DLQ: Final = "steam.dlq"

DATA_TOPICS: Final = (TOPIC_PLAYER_COUNTS, TOPIC_NEWS, TOPIC_APPS, TOPIC_PLAYTIME)
ALL_TOPICS: Final = (*DATA_TOPICS, TOPIC_DLQ)
