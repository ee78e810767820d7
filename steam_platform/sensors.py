"""Sensors of the platform: event-driven runs (no schedules) for the layers that follow others.

`search_indexing_sensor` evaluates the search assets' `AutomationCondition`s: when a mart (or
`fact_news`) partition is materialised, the next tick requests a run of the matching search asset
for that partition, and nothing else. It starts running with the daemon (no click in the UI).
"""

import dagster as dg

from steam_platform.constants import GROUP_SEARCH

search_indexing_sensor = dg.AutomationConditionSensorDefinition(
    "search_indexing_sensor",
    target=dg.AssetSelection.groups(GROUP_SEARCH),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Indexes a mart/news partition into Elasticsearch as soon as it is materialised.",
)

SENSORS: list[dg.SensorDefinition] = [search_indexing_sensor]
