"""How often a failing step is attempted: bounded, and not multiplied between layers of retries.

A step's `RetryPolicy` retries inside the run; the instance's run retries re-execute a run whose
worker crashed. If the instance also retried runs whose step failed, a failing Spark step would get
(1 + 1) x (1 + 2) = 6 attempts per request. The automation then waits (back-off, attempt cap).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from steam_platform.assets.ingest.common import INGEST_RETRY_POLICY
from steam_platform.assets.lake import refresh_sensor as lake_sensor
from steam_platform.core.spark_steps import SPARK_RETRY
from steam_platform.definitions import defs

DAGSTER_YAML = Path(__file__).resolve().parents[2] / "deploy" / "dagster.yaml"


def _instance_config() -> dict:
    return yaml.safe_load(DAGSTER_YAML.read_text())


def _attempts_per_request(step_retries: int) -> int:
    retries = _instance_config()["run_retries"]
    run_attempts = 1 + retries["max_retries"] if retries.get("retry_on_asset_or_op_failure", True) else 1
    return (1 + step_retries) * run_attempts


def test_run_retries_are_for_crashed_workers_not_failed_steps() -> None:
    retries = _instance_config()["run_retries"]
    assert retries["enabled"] and retries["max_retries"] == 2
    assert retries["retry_on_asset_or_op_failure"] is False


def test_a_failing_spark_step_is_attempted_twice_per_request() -> None:
    assert _attempts_per_request(SPARK_RETRY.max_retries) == 2
    assert _attempts_per_request(INGEST_RETRY_POLICY.max_retries) == 3
    for spec in defs.resolve_all_asset_specs():
        assets_def = defs.resolve_assets_def(spec.key)
        if assets_def.is_executable and "spark" in spec.kinds:
            policy = assets_def.op.retry_policy
            assert policy is not None and policy.max_retries <= 1, spec.key


def test_the_automation_retries_a_failed_request_a_bounded_number_of_times() -> None:
    assert lake_sensor.MAX_ATTEMPTS == 3
    total = lake_sensor.MAX_ATTEMPTS * _attempts_per_request(SPARK_RETRY.max_retries)
    assert total == 6  # over 30 minutes of back-off, then only new data asks again


def test_spark_runs_wait_in_the_queue_for_their_pool() -> None:
    pools = _instance_config()["concurrency"]["pools"]
    assert pools["granularity"] == "run" and pools["default_limit"] == 1
