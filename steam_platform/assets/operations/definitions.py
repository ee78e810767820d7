"""Operations: what keeps the platform's own runs healthy when nobody watches.

- `run_reaper.py`: `dead_run_reaper` fails runs whose worker process died (the default run
  launcher cannot check worker health), so run retries re-execute them and no sensor waits on them.
Maximum runtimes per job are run tags (`steam_platform/core/run_limits.py`) that Dagster's run
monitoring enforces.
"""

import dagster as dg

from steam_platform.assets.operations.run_reaper import build_dead_run_reaper
from steam_platform.core.settings import RunSupervisionSettings

dead_run_reaper = build_dead_run_reaper(RunSupervisionSettings.load().reaper_interval_s)

defs = dg.Definitions(sensors=[dead_run_reaper])
