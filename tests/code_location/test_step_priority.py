"""A lake run reaches `search_game_daily` before it rebuilds the other marts.

The order is Dagster's own: its execution plan for the real `lake_refresh_job`, stepped through
the way the in-process executor does it (one ready step at a time, highest `dagster/priority`
first), each step reported done with all its outputs.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.execution.api import create_execution_plan
from dagster._core.execution.plan.active import ActiveExecution
from dagster._core.execution.plan.outputs import StepOutputHandle
from dagster._core.execution.retries import RetryMode

from steam_platform.core.step_priority import POLL_TO_SEARCH_PATH, PRIORITY_TAG
from steam_platform.definitions import defs

#: What `lake_refresh_sensor` asks for after a poll: the landing and today's refresh through search.
POLL_RUN = [
    "bronze_player_counts",
    "fact_player_counts",
    "mart_game_daily",
    "mart_news_impact",
    "mart_player_count_gaps",
    "mart_top_games",
    "search_game_daily",
    "search_news_impact",
    "search_player_count_gaps",
    "search_top_games",
]


def _step_order(job: dg.JobDefinition) -> list[str]:
    plan = create_execution_plan(job)
    order: list[str] = []
    with ActiveExecution(plan, RetryMode.DISABLED) as active:
        while not active.is_complete:
            (step,) = active.get_steps_to_execute(limit=1)
            for output in step.step_outputs:
                active.mark_step_produced_output(StepOutputHandle(step.key, output.name))
            active.mark_success(step.key)
            order.append(step.key)
    return order


def test_the_poll_to_search_path_runs_first_in_a_lake_run() -> None:
    job = defs.resolve_job_def("lake_refresh_job").get_subset(
        asset_selection={dg.AssetKey(name) for name in POLL_RUN}
    )
    order = _step_order(job)
    assert sorted(order) == sorted(POLL_RUN)
    assert order[:4] == ["bronze_player_counts", "fact_player_counts", "mart_game_daily", "search_game_daily"]


def test_only_the_path_is_raised() -> None:
    raised = {
        key.to_user_string()
        for assets_def in defs.resolve_all_asset_specs()
        for key in [assets_def.key]
        if (defs.resolve_assets_def(key).op.tags or {}).get(PRIORITY_TAG)
    }
    assert raised == POLL_TO_SEARCH_PATH
