"""The search layer: marts and news indexed into Elasticsearch, and the Kibana saved objects.

- `assets.py`: one index asset per mart (and news), plus `kibana_saved_objects`.
- `templates.py` (mappings derived from the table contracts), `indexer.py` (partition sync and
  full refresh behind an alias), `bulk.py` (bulk writes with retries), `reader.py` (mart
  partitions from the lake as documents).
- `kibana_objects.py` and `dashboards.py` generate the dashboards shipped in `kibana/*.ndjson`
  (package data, so a wheel install provisions them too).
Today's partitions are indexed by the lake run; past days and the saved objects follow the
declarative conditions evaluated by `search_automation_sensor`. `restore.py` and
`restore_sensor.py`: `search_restore_sensor` rebuilds what Elasticsearch or Kibana lost (a wiped
cluster) from the lake, in one full-refresh run of `search_restore_job`.
"""

import dagster as dg

from steam_platform.assets.search.assets import (
    kibana_saved_objects,
    search_game_daily,
    search_news,
    search_news_impact,
    search_player_count_gaps,
    search_top_games,
)
from steam_platform.assets.search.restore_sensor import build_search_restore_sensor, search_restore_job
from steam_platform.core.constants import GROUP_SEARCH
from steam_platform.core.run_limits import lake_run_tags
from steam_platform.core.settings import ScheduleSettings, SearchSettings

search_automation_sensor = dg.AutomationConditionSensorDefinition(
    "search_automation_sensor",
    target=dg.AssetSelection.groups(GROUP_SEARCH),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=ScheduleSettings.load().automation_interval_s,
    run_tags=lake_run_tags(),
    description="Search indices of past days follow their mart (at most hourly, blocking checks "
    "passed); Kibana saved objects are provisioned when missing or changed.",
)

search_restore_sensor = build_search_restore_sensor(SearchSettings.load().restore_check_interval_s)

defs = dg.Definitions(
    assets=[
        search_game_daily,
        search_top_games,
        search_news_impact,
        search_player_count_gaps,
        search_news,
        kibana_saved_objects,
    ],
    jobs=[search_restore_job],
    sensors=[search_automation_sensor, search_restore_sensor],
)
