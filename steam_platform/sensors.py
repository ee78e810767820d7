"""Sensors of the platform: how every layer after ingest runs itself, with nobody clicking.

- `lake_refresh_sensor` (steam_platform/automation/lake_sensor.py): after each ingest run, one run
  lands the new events in bronze and refreshes the day's silver, marts and search; days a landing
  changed in the past (news backfills) and each closed day are rebuilt too.
- `downstream_automation_sensor`: evaluates the `AutomationCondition`s of the marts and search
  assets (steam_platform/automation/conditions.py): past days whose upstream changed outside a
  lake run, and the Kibana saved objects.

Both start running with the daemon (`make dev`, compose, any production Dagster).
"""

import dagster as dg

from steam_platform.automation.lake_sensor import lake_refresh_sensor
from steam_platform.constants import GROUP_MARTS, GROUP_SEARCH

downstream_automation_sensor = dg.AutomationConditionSensorDefinition(
    "downstream_automation_sensor",
    target=dg.AssetSelection.groups(GROUP_MARTS, GROUP_SEARCH),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Marts and search of past days follow their upstream (at most hourly); Kibana "
    "saved objects are provisioned when missing or changed.",
)

SENSORS: list[dg.SensorDefinition] = [lake_refresh_sensor, downstream_automation_sensor]
