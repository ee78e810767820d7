"""The code location: every layer's definitions merged, resources chosen per environment."""

from __future__ import annotations

import dagster as dg

from steam_platform.assets import bus, ingest, lake, marts, search, warehouse
from steam_platform.assets.lake_continuous import bronze_continuous_job
from steam_platform.resources.wiring import build_resources
from steam_platform.schedules import INGEST_JOBS, INGEST_SCHEDULES
from steam_platform.sensors import SENSORS

#: Every step of a run in the run's own process: a lake run (bronze -> silver -> marts -> search)
#: then shares ONE Spark session (one driver JVM) instead of starting one per step, which on two
#: cores costs 5-40 s and ~1 GB each. Parallelism comes from separate runs, bounded by pools.
defs = dg.Definitions(
    executor=dg.in_process_executor,
    assets=dg.load_assets_from_modules([bus, ingest, lake, warehouse, marts, search]),
    asset_checks=dg.load_asset_checks_from_modules([bus]),
    jobs=[*INGEST_JOBS, bronze_continuous_job],
    schedules=INGEST_SCHEDULES,
    sensors=SENSORS,
    resources=build_resources(),
)
