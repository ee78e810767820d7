"""Operations: what keeps the platform's own runs healthy when nobody watches.

- `run_reaper.py`: `dead_run_reaper` fails runs whose worker process died (the default run
  launcher cannot check worker health), so run retries re-execute them and no sensor waits on them.
- `reask_sensor.py`: `reask_failed_work_sensor` asks failed partitions of news, apps, player
  activity and the warehouse, marts and search again with back-off, within the Steam budget, and
  gives them up (tagged, alerted) after a bounded number of tries.
Maximum runtimes per job are run tags (`steam_platform/core/run_limits.py`) that Dagster's run
monitoring enforces.
"""

import dagster as dg

from steam_platform.assets.operations.reask_sensor import build_reask_sensor
from steam_platform.assets.operations.run_reaper import build_dead_run_reaper
from steam_platform.core.settings import ReaskSettings, RunSupervisionSettings

dead_run_reaper = build_dead_run_reaper(RunSupervisionSettings.load().reaper_interval_s)
reask_failed_work_sensor = build_reask_sensor(ReaskSettings.load())

defs = dg.Definitions(sensors=[dead_run_reaper, reask_failed_work_sensor])
