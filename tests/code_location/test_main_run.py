"""The main run's plan: layers in data-flow order, each stage on the partition in progress."""

from datetime import UTC, datetime

import dagster as dg

from steam_devstack.main_run import plan_stages
from steam_platform.core.partitions import daily_partitions, hourly_partitions


def _asset(
    name: str, group: str, partitions_def: dg.PartitionsDefinition | None = None
) -> dg.AssetsDefinition:
    @dg.asset(name=name, group_name=group, partitions_def=partitions_def)
    def _a() -> None:
        return None

    return _a


def test_stages_follow_the_layers_and_pick_the_current_partitions() -> None:
    defs = dg.Definitions(
        assets=[
            _asset("mart", "marts", daily_partitions),
            _asset("bronze", "lake"),
            _asset("counts", "ingest", hourly_partitions),
            _asset("news", "ingest", daily_partitions),
            _asset("topics", "bus"),
            _asset("fact", "warehouse", daily_partitions),
        ]
    )
    now = datetime(2026, 11, 25, 13, 37, tzinfo=UTC)

    stages = plan_stages(defs, now=now)

    assert [(s.group, [k.to_user_string() for k in s.asset_keys], s.partition_key) for s in stages] == [
        ("bus", ["topics"], None),
        ("ingest", ["news"], "2026-11-25"),
        ("ingest", ["counts"], "2026-11-25-13:00"),
        ("lake", ["bronze"], None),
        ("warehouse", ["fact"], "2026-11-25"),
        ("marts", ["mart"], "2026-11-25"),
    ]


def test_source_assets_are_not_planned() -> None:
    external = dg.AssetSpec("steam_web_api", group_name="ingest")
    defs = dg.Definitions(assets=[external, _asset("topics", "bus")])

    assert [s.group for s in plan_stages(defs, now=datetime(2026, 11, 25, tzinfo=UTC))] == ["bus"]
