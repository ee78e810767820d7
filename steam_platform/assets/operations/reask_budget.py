"""Whether a re-ask that calls Steam fits today's budget without taking the scheduled polls' share.

Steam allows one budget of Web API calls per key and UTC day (`resources/steam/budget.py`), shared
by every run. The scheduled polls come first: a player count missed for want of budget can never
be made later, while a re-asked news day can wait for tomorrow's budget. So a re-ask is requested
only when the calls left today cover

    its own expected calls + what the schedules still need before midnight UTC
    + `STEAM_REASK_BUDGET_RESERVE_PCT` of the daily limit (people's runs, retries, estimates off)

and is otherwise deferred: it stays failed and is asked on a later tick (at the latest after the
budget resets), never dropped. Expected calls are measured: each asset's latest materialisation
reports the Web API calls it made (`steam_calls_detail`; store calls are paced, not budgeted); an
asset never materialised is estimated from the tracked apps and players.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._utils.schedules import cron_string_iterator  # Dagster's cron iterator (no croniter dependency)

from steam_platform.core.tracked import load_tracked
from steam_platform.resources.steam.budget import CallBudget, budget_scope
from steam_platform.resources.steam_api import SteamApiResource, default_budget_state_dir

#: Endpoints under this prefix are the store's (paced by `StorePace`, not counted in the budget).
STORE_ENDPOINT_PREFIX = "store/"


@dataclass(frozen=True)
class BudgetView:
    """Today's Steam budget as a re-ask sees it."""

    remaining: int
    reserve: int

    def fits(self, calls: int) -> bool:
        """Whether `calls` more leave the reserve untouched."""
        return self.remaining - calls >= self.reserve

    def spend(self, calls: int) -> BudgetView:
        """The view after a re-ask of `calls` was requested."""
        return BudgetView(self.remaining - calls, self.reserve)


def remaining_today(steam: SteamApiResource) -> int:
    """Calls left today under the key's daily limit (what every run has used counted)."""
    state = Path(steam.budget_state_dir) if steam.budget_state_dir else default_budget_state_dir()
    budget = CallBudget(
        state / "budget.sqlite", budget_scope(steam.api_base_url, steam.api_key), steam.daily_call_budget
    )
    return budget.remaining_today()


def _first_run_estimate(asset: str) -> int:
    """Web API calls of an asset never materialised: one per tracked app or three per player."""
    tracked = load_tracked()
    per_asset = {
        "player_counts": len(tracked.apps),
        "news": len(tracked.apps),
        "player_activity": 3 * len(tracked.players),
        "app_catalog": 1,
        "app_details": 0,
    }
    return per_asset.get(asset, len(tracked.apps))


def _web_api_calls(metadata: dict[str, Any]) -> int | None:
    detail = metadata.get("steam_calls_detail")
    by_endpoint = getattr(detail, "value", {}).get("calls_by_endpoint") if detail is not None else None
    if isinstance(by_endpoint, dict):
        return sum(int(n) for ep, n in by_endpoint.items() if not str(ep).startswith(STORE_ENDPOINT_PREFIX))
    total = metadata.get("steam_calls")
    return int(str(total.value)) if total is not None else None


def expected_calls(instance: dg.DagsterInstance, assets: Iterable[dg.AssetKey]) -> int:
    """Web API calls one run of `assets` is expected to make (each asset's latest materialisation)."""
    total = 0
    for key in assets:
        records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=1).records
        materialization = records[0].asset_materialization if records else None
        measured = _web_api_calls(dict(materialization.metadata)) if materialization else None
        total += measured if measured is not None else _first_run_estimate(key.to_user_string())
    return total


def ticks_left_today(cron: str, timezone: str | None, now: datetime) -> int:
    """Ticks of `cron` from `now` until the next midnight UTC."""
    midnight = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), datetime.min.time(), UTC)
    ticks = 0
    for tick in cron_string_iterator(now.timestamp(), cron, timezone):
        if tick >= midnight:
            break
        ticks += 1
    return ticks


def scheduled_need(
    instance: dg.DagsterInstance,
    schedules: Iterable[dg.ScheduleDefinition],
    job_assets: dict[str, Any],
    now: datetime,
) -> int:
    """Web API calls the Steam schedules' remaining ticks today are expected to make.

    `job_assets`: the asset keys of each Steam-calling job, by job name."""
    need = 0
    for schedule in schedules:
        assets = job_assets.get(schedule.job_name)
        if assets is None:
            continue
        cron = schedule.cron_schedule
        assert isinstance(cron, str), f"{schedule.name}: one cron string expected"
        need += ticks_left_today(cron, schedule.execution_timezone, now) * expected_calls(instance, assets)
    return need


def budget_view(
    steam: SteamApiResource,
    instance: dg.DagsterInstance,
    schedules: Iterable[dg.ScheduleDefinition],
    job_assets: dict[str, Any],
    reserve_pct: int,
    now: datetime,
) -> BudgetView:
    """Today's remaining calls and the reserve a re-ask must leave."""
    reserve = (
        scheduled_need(instance, schedules, job_assets, now) + steam.daily_call_budget * reserve_pct // 100
    )
    return BudgetView(remaining_today(steam), reserve)
