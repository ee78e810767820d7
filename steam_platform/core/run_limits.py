"""Maximum runtimes of the platform's runs, as the run tags Dagster's run monitoring enforces.

A run over its limit is failed by the daemon (`run_monitoring` in `deploy/dagster.yaml`) whatever
the run launcher, and asked for again by the automation: a hung Spark query or a stuck Steam call
cannot hold a pool, or a sensor waiting for it, for good. Limits come from `RunSupervisionSettings`
(`STEAM_MAX_RUNTIME_*`), sized from measured runtimes; the continuous bronze job runs until told to
stop, so it has none.
"""

from __future__ import annotations

from steam_platform.core.settings import RunSupervisionSettings

#: Dagster's run tag for a run's maximum runtime in seconds (`0`: no limit).
MAX_RUNTIME_TAG = "dagster/max_runtime"


def max_runtime_tags(seconds: int) -> dict[str, str]:
    """Run tags that limit a run to `seconds` (0 leaves it unlimited)."""
    return {MAX_RUNTIME_TAG: str(seconds)}


def poll_run_tags() -> dict[str, str]:
    """Limit of a player-count or player-activity poll run."""
    return max_runtime_tags(RunSupervisionSettings.load().max_runtime_poll_s)


def daily_ingest_run_tags() -> dict[str, str]:
    """Limit of a news or app-catalogue run."""
    return max_runtime_tags(RunSupervisionSettings.load().max_runtime_daily_ingest_s)


def lake_run_tags() -> dict[str, str]:
    """Limit of a lake run and of a marts or search automation run."""
    return max_runtime_tags(RunSupervisionSettings.load().max_runtime_lake_s)
