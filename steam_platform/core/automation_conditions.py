"""Declarative automation of the layers after the warehouse, for what the lake sensor does not do.

`lake_refresh_sensor` rebuilds the days a landing changed, marts and search included, in the same
run. What is left for declarative conditions (evaluated by `marts_automation_sensor`
and `search_automation_sensor`):
- a mart or search partition of a past day whose upstream changed outside such a run (a warehouse
  day rebuilt from the UI, the next day's player counts feeding yesterday's news-impact windows);
- the Kibana saved objects, when missing or when their files change.

Past days follow their upstream at most once per clock hour, never while the upstream or the
target is running, and only once the upstream's blocking checks passed: a failed mart is never
indexed, and a failing partition is requested again only when its upstream changed again and
the next hour has begun, not on every tick.
"""

from __future__ import annotations

from typing import Any, cast

import dagster as dg

AC = dg.AutomationCondition

#: Hourly throttle of past-day refreshes (the top of each UTC hour). Typed as a plain condition:
#: Dagster types `cron_tick_passed` for asset keys only, which mypy will not combine with checks.
HOURLY = cast(Any, AC.cron_tick_passed("0 * * * *", "UTC"))

FOLLOW_UPSTREAM_PAST_DAYS = (
    ~AC.in_latest_time_window()
    & AC.any_deps_updated().since_last_handled()
    & HOURLY.since_last_handled()
    & ~AC.any_deps_in_progress()
    & ~AC.in_progress()
    & AC.all_deps_blocking_checks_passed()
).with_label("follow upstream (past days, at most hourly)")

PROVISION_WHEN_MISSING_OR_CHANGED = (
    (AC.missing() | cast(Any, AC.code_version_changed())).since_last_handled() & ~AC.in_progress()
).with_label("provision when missing or changed")
