"""The code location: every layer's `Definitions` merged, with the resources of the environment.

Each layer lives in its own folder under `steam_platform/assets/` and owns its assets, checks,
jobs, schedules and sensors (see its `definitions.py`); this module only merges them, and runs
every op of the result inside `scrubbed` (`core/scrubbed_steps.py`): failures, log lines and
metadata reach the event log without credentials.
"""

from __future__ import annotations

import dagster as dg

from steam_platform.assets.bus import definitions as bus
from steam_platform.assets.ingest import definitions as ingest
from steam_platform.assets.lake import definitions as lake
from steam_platform.assets.marts import definitions as marts
from steam_platform.assets.operations import definitions as operations
from steam_platform.assets.search import definitions as search
from steam_platform.assets.warehouse import definitions as warehouse
from steam_platform.core.scrubbed_steps import scrub_definitions
from steam_platform.resources.wiring import build_resources

#: Every step of a run in the run's own process: a lake run (bronze -> silver -> marts -> search)
#: then shares ONE Spark session (one driver JVM) instead of starting one per step, which on two
#: cores costs 5-40 s and ~1 GB each. Parallelism comes from separate runs, bounded by pools.
#: Layer Definitions stay inside their modules: a code location loaded by module (`-m`) must see
#: exactly one `Definitions` object at module scope.
defs = scrub_definitions(
    dg.Definitions.merge(
        ingest.defs,
        bus.defs,
        lake.defs,
        warehouse.defs,
        marts.defs,
        search.defs,
        operations.defs,
        dg.Definitions(executor=dg.in_process_executor, resources=build_resources()),
    )
)
