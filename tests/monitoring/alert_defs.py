"""A tiny code location for the alert tests: a job that fails on demand and an asset with a
freshness policy (the smallest fail window Dagster accepts, one minute).

No `from __future__ import annotations`: Dagster reads the op's config class from its annotation."""

from datetime import timedelta

import dagster as dg

JOB = "nightly_export"
ASSET = "layer_table"
LAYER = "lake"


class ExportConfig(dg.Config):
    fail: bool = False


@dg.op
def export(config: ExportConfig) -> None:
    if config.fail:
        raise RuntimeError("the export failed (on purpose)")


@dg.job(name=JOB)
def nightly_export() -> None:
    export()


@dg.asset(
    name=ASSET,
    group_name=LAYER,
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=1)),
)
def layer_table() -> None:
    """Stands in for a layer's table."""


defs = dg.Definitions(jobs=[nightly_export], assets=[layer_table])
