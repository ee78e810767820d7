"""The marts layer: gold tables for dashboards (daily game stats, news impact, top games) and the
record of missed player-count polls (`mart_player_count_gaps`).

Today's partitions are refreshed by `lake_refresh_sensor` with the day's silver; a past day whose
upstream changed outside such a run follows by the declarative condition below, evaluated by
`marts_automation_sensor`.
"""

import dagster as dg

from steam_platform.assets.marts.assets import (
    mart_game_daily,
    mart_news_impact,
    mart_player_count_gaps,
    mart_top_games,
)
from steam_platform.core.constants import GROUP_MARTS
from steam_platform.core.run_limits import lake_run_tags
from steam_platform.core.settings import ScheduleSettings

marts_automation_sensor = dg.AutomationConditionSensorDefinition(
    "marts_automation_sensor",
    target=dg.AssetSelection.groups(GROUP_MARTS),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=ScheduleSettings.load().automation_interval_s,
    run_tags=lake_run_tags(),
    description="Marts of past days follow their upstream (at most hourly, blocking checks passed).",
)

defs = dg.Definitions(
    assets=[mart_game_daily, mart_news_impact, mart_top_games, mart_player_count_gaps],
    sensors=[marts_automation_sensor],
)
