"""Stand-ins with the platform's asset keys and partitions, to write real run history cheaply.

`reask_failed_work_sensor` reads only Dagster's records (partition statuses, runs, their tags, the
latest materialisation's metadata), never the assets' code. So the tests execute these stand-ins
(same keys, same partitions definitions, a step that fails on demand) on a test instance and judge
the sensor, loaded from the real code location, against the history they leave.
"""

from typing import Any

import dagster as dg

from steam_platform.core.partitions import daily_partitions, hourly_partitions

#: Web API calls a successful stand-in `news` run reports (as the real asset does).
NEWS_CALLS = 30
FAIL = {"fail": dg.Field(bool, default_value=False)}


def _run(context: dg.AssetExecutionContext, calls: dict[str, int] | None = None) -> dg.MaterializeResult:
    if context.op_execution_context.op_config["fail"]:
        raise RuntimeError("the service is down (on purpose)")
    metadata: dict[str, Any] = {}
    if calls is not None:
        metadata["steam_calls"] = sum(calls.values())
        metadata["steam_calls_detail"] = dg.MetadataValue.json({"calls_by_endpoint": calls})
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(name="news", partitions_def=daily_partitions, config_schema=FAIL)
def news(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return _run(context, {"ISteamNews/GetNewsForApp": NEWS_CALLS})


@dg.asset(name="player_counts", partitions_def=hourly_partitions, config_schema=FAIL)
def player_counts(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return _run(context)


@dg.asset(name="player_activity", partitions_def=hourly_partitions, config_schema=FAIL)
def player_activity(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return _run(context, {"IPlayerService/GetRecentlyPlayedGames": 3})


@dg.asset(name="fact_news", partitions_def=daily_partitions, config_schema=FAIL)
def fact_news(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return _run(context)


@dg.asset(name="mart_game_daily", partitions_def=daily_partitions, config_schema=FAIL)
def mart_game_daily(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return _run(context)


STANDINS = {
    a.key.to_user_string(): a for a in (news, player_counts, player_activity, fact_news, mart_game_daily)
}


def run_standin(
    instance: dg.DagsterInstance,
    asset: str,
    partition: str,
    *,
    fail: bool,
    tags: dict[str, str] | None = None,
) -> dg.DagsterRun:
    """Materialise one stand-in partition (failing on purpose when `fail`); the finished run."""
    result = dg.materialize(
        [STANDINS[asset]],
        partition_key=partition,
        instance=instance,
        tags=tags,
        run_config={"ops": {asset: {"config": {"fail": fail}}}},
        raise_on_error=False,
    )
    assert result.success is not fail
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    return run
