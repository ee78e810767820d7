"""How often each kind of Steam data arrives, and the freshness every layer promises from it.

A layer is as fresh as its source's cadence allows: player counts are polled every
`STEAM_POLL_INTERVAL_MINUTES` (default 10), player activity hourly, news and the app catalogue
daily. After a poll the lake run lands it and refreshes the day's warehouse, marts and search
in one go (`steam_platform/assets/lake/refresh_sensor.py`), typically within two minutes. The
freshness policy of each asset says the same: it warns once a poll's data is `PIPELINE_LAG` late
and fails after a second missed cadence, so a policy that fails means the platform stopped
keeping up.
"""

from __future__ import annotations

from datetime import timedelta
from enum import Enum

import dagster as dg

from steam_platform.core.settings import ScheduleSettings

POLL_INTERVAL_ENV = ScheduleSettings.env_name("poll_interval_minutes")
DEFAULT_POLL_INTERVAL_MINUTES: int = ScheduleSettings.model_fields["poll_interval_minutes"].default
#: What a poll may take to reach every layer (queue, run start, Spark, indexing) before it is late.
PIPELINE_LAG = timedelta(minutes=10)


def poll_interval_minutes() -> int:
    """`STEAM_POLL_INTERVAL_MINUTES` (default 10); must divide an hour so slots align with hours."""
    return ScheduleSettings.load().poll_interval_minutes


class Cadence(Enum):
    """The source cadence a table follows."""

    POLL = "poll"
    HOURLY = "hourly"
    DAILY = "daily"

    @property
    def interval(self) -> timedelta:
        if self is Cadence.POLL:
            return timedelta(minutes=poll_interval_minutes())
        return timedelta(hours=1) if self is Cadence.HOURLY else timedelta(days=1)


def freshness(cadence: Cadence) -> dg.FreshnessPolicy:
    """Warn when the newest data is one cadence + `PIPELINE_LAG` old, fail after two cadences."""
    interval = cadence.interval
    return dg.FreshnessPolicy.time_window(
        warn_window=interval + PIPELINE_LAG, fail_window=2 * interval + PIPELINE_LAG
    )
