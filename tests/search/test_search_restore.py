"""A wiped Elasticsearch and Kibana come back without a person: `search_restore_sensor` sees what the
platform built and the cluster no longer holds, and requests one full-refresh run that restores it.

The integration test runs on the stack's real Elasticsearch 7.10.2 and the Kibana fake (which keeps
imported objects and answers `_bulk_get` from them); mart and news partitions are Parquet files in
a local lake folder, the way Spark writes them.
"""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from http_fake import respond, serve_handler
from kibana_fake import FakeKibana
from search_support import ROWS_FOR, LocalLake, write_partition

from steam_platform.assets.search import definitions as search_layer
from steam_platform.assets.search.restore import KIBANA_ASSET, Loss, SearchIndex, lost_indices
from steam_platform.assets.search.restore_sensor import (
    RESTORE_TAG,
    RETRY_WINDOW,
    build_search_restore_sensor,
    restore_request,
    search_restore_job,
)
from steam_platform.assets.search.templates import INDEX_SPECS, IndexSpec
from steam_platform.resources.elasticsearch import ElasticsearchResource
from steam_platform.resources.es_client import SearchClient
from steam_platform.resources.kibana import KibanaResource

DAYS = ("2026-10-08", "2026-10-09")
SENSOR = build_search_restore_sensor(60)
#: The search layer's index assets and the spec of each (alias, lake table), as the layer defines them.
INDEX_ASSETS = [
    a for a in search_layer.defs.assets or [] if isinstance(a, dg.AssetsDefinition) and a.key != KIBANA_ASSET
]
SPECS = {spec.alias: spec for spec in INDEX_SPECS}


def _spec(asset: dg.AssetsDefinition) -> IndexSpec:
    return SPECS[str(asset.metadata_by_key[asset.key]["alias"])]


def _defs(
    es_resource: ElasticsearchResource, kibana: str | KibanaResource | None, lake: Any
) -> dg.Definitions:
    kibana_saved_objects = next(
        a for a in search_layer.defs.assets or [] if getattr(a, "key", None) == KIBANA_ASSET
    )
    return dg.Definitions(
        assets=[*INDEX_ASSETS, kibana_saved_objects],
        jobs=[search_restore_job],
        sensors=[SENSOR],
        resources={
            "elasticsearch": es_resource,
            "kibana": kibana if isinstance(kibana, KibanaResource) else KibanaResource(url=kibana),
            "s3": lake,
        },
    )


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, definitions=defs, resources=defs.resources)
    result = SENSOR(context)
    assert isinstance(result, dg.SensorResult)
    return result


def _reason(result: dg.SensorResult) -> str:
    return result.skip_reason.skip_message or "" if result.skip_reason else ""


def _counts(es: SearchClient) -> dict[str, int]:
    return {_spec(a).alias: es.count(_spec(a).alias) for a in INDEX_ASSETS}


@pytest.mark.integration
def test_a_wiped_cluster_and_kibana_are_restored_by_one_requested_run(
    es: SearchClient, es_resource: ElasticsearchResource, fake_kibana: str, tmp_path: Path
) -> None:
    for asset in INDEX_ASSETS:
        for day in DAYS:
            write_partition(tmp_path, _spec(asset).table, day, ROWS_FOR[_spec(asset).table.name](day))
    defs = _defs(es_resource, fake_kibana, LocalLake(root=str(tmp_path)))
    job = defs.resolve_job_def("search_restore_job")
    with dg.instance_for_test() as instance:
        assert _tick(defs, instance).run_requests == []  # nothing built yet: nothing lost
        for day in DAYS:  # as the lake runs index them: the first day builds each alias, then a sync
            keys = [a.key for a in INDEX_ASSETS]
            assert job.execute_in_process(instance=instance, partition_key=day, asset_selection=keys).success
        assert job.execute_in_process(instance=instance, asset_selection=[KIBANA_ASSET]).success
        built, provisioned = _counts(es), dict(FakeKibana.objects)
        assert all(built.values()) and provisioned
        quiet = _tick(defs, instance)
        assert quiet.run_requests == [] and "every search alias" in _reason(quiet)

        # The cluster loses its data: every index, alias and template; Kibana's objects with it.
        es.delete_index("*")
        for spec in INDEX_SPECS:
            es.delete_index_template(spec.template_name)
        assert not any(es.index_exists(alias) for alias in built)
        FakeKibana.objects.clear()

        (request,) = _tick(defs, instance).run_requests
        assert set(request.asset_selection or []) == {*(a.key for a in INDEX_ASSETS), KIBANA_ASSET}
        assert request.partition_key == DAYS[-1]
        assert request.run_config == {
            "ops": {a.key.path[-1]: {"config": {"full_refresh": True}} for a in INDEX_ASSETS}
        }
        run = job.execute_in_process(
            run_config=request.run_config,
            instance=instance,
            partition_key=request.partition_key,
            asset_selection=list(request.asset_selection or []),
            tags=request.tags,
        )
        assert run.success
        assert _counts(es) == built  # every alias back, with every day of the lake (news included)
        for alias in built:
            (index,) = es.get_alias(name=alias)
            assert index.startswith(SPECS[alias].index_prefix)
        assert FakeKibana.objects == provisioned
        again = _tick(defs, instance)
        assert again.run_requests == [] and "Kibana holds every saved object" in _reason(again)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on: an Elasticsearch that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _built_instance(instance: dg.DagsterInstance) -> None:
    """Records as if every index had been built for the first day (docs indexed) without a cluster."""
    for asset in INDEX_ASSETS:
        event = dg.AssetMaterialization(asset.key, partition=DAYS[0], metadata={"docs_indexed": 5})
        instance.report_runless_asset_event(event)


def test_an_unreachable_cluster_is_an_outage_not_a_wipe(closed_port: int, tmp_path: Path) -> None:
    es_down = ElasticsearchResource(url=f"http://127.0.0.1:{closed_port}", retry_attempts=1, max_retries=0)
    defs = _defs(es_down, None, LocalLake(root=str(tmp_path)))
    with dg.instance_for_test() as instance:
        _built_instance(instance)
        result = _tick(defs, instance)
    assert result.run_requests == []
    assert "did not answer" in _reason(result) and "an outage is not a wipe" in _reason(result)


class RecoveringNode(BaseHTTPRequestHandler):
    """An Elasticsearch 7.10 node that answers `GET /` but refuses the rest with 503, as a node
    does while it recovers its cluster state."""

    def do_GET(self) -> None:
        if self.path == "/":
            info = {"version": {"number": "7.10.2"}, "tagline": "You Know, for Search"}
            respond(self, 200, json.dumps(info).encode(), "application/json")
            return
        error = {"error": {"type": "cluster_block_exception", "reason": "state not recovered"}, "status": 503}
        respond(self, 503, json.dumps(error).encode(), "application/json")

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


def test_a_recovering_cluster_is_an_outage_not_a_wipe(tmp_path: Path) -> None:
    with serve_handler(RecoveringNode) as url, dg.instance_for_test() as instance:
        defs = _defs(ElasticsearchResource(url=url), None, LocalLake(root=str(tmp_path)))
        _built_instance(instance)
        result = _tick(defs, instance)
    assert result.run_requests == []
    assert "cluster_block_exception" in _reason(result) and "an outage is not a wipe" in _reason(result)


def test_nothing_is_requested_while_a_restore_runs(closed_port: int, tmp_path: Path) -> None:
    es_down = ElasticsearchResource(url=f"http://127.0.0.1:{closed_port}")
    defs = _defs(es_down, None, LocalLake(root=str(tmp_path)))
    with dg.instance_for_test() as instance:
        _built_instance(instance)
        job = defs.resolve_job_def("search_restore_job")
        run = instance.create_run_for_job(job, tags={RESTORE_TAG: "true"}, status=dg.DagsterRunStatus.STARTED)
        result = _tick(defs, instance)
    assert result.run_requests == []
    assert _reason(result) == f"restore run {run.run_id} is in flight: waiting for it"


def test_one_loss_is_requested_once_per_window_and_a_new_loss_at_once() -> None:
    news = Loss(dg.AssetKey("search_news"), "alias steam_news does not exist", "2026-10-09", built=40)
    top = Loss(dg.AssetKey("search_top_games"), "alias mart_top_games does not exist", "2026-10-07", built=41)
    kibana = Loss(KIBANA_ASSET, "Kibana lacks 2 saved object(s)", built=42)
    start = datetime(2026, 12, 4, 10, 45, tzinfo=UTC)
    first = restore_request([news, top, kibana], start)
    same_window = restore_request([news, top, kibana], start + RETRY_WINDOW / 2)
    next_window = restore_request([news, top, kibana], start + RETRY_WINDOW)
    assert first.run_key == same_window.run_key != next_window.run_key  # a failed restore: retried later
    assert (
        first.run_key == "search-restore:kibana_saved_objects+search_news+search_top_games:42:20261204T1045"
    )
    assert first.partition_key == "2026-10-09"  # the latest day any lost index was built for
    assert first.tags == {RESTORE_TAG: "true"}
    assert restore_request([news], start).run_key != first.run_key  # another loss, another request
    # Lost again after a restore (which materialised them anew): requested at once, same window.
    rebuilt = [dataclasses.replace(loss, built=loss.built + 10) for loss in (news, top, kibana)]
    assert restore_request(rebuilt, start + RETRY_WINDOW / 2).run_key != first.run_key
    only_kibana = restore_request([kibana], start)
    assert (only_kibana.partition_key, only_kibana.run_config) == (None, {})


@pytest.mark.integration
def test_an_empty_alias_is_lost_only_while_its_latest_build_indexed_documents(es: SearchClient) -> None:
    spec = SPECS["steam_news"]
    index = f"{spec.index_prefix}20261204t000000000000"
    es.create_index(index)
    es.update_aliases([{"add": {"index": index, "alias": spec.alias}}])
    news = [SearchIndex(dg.AssetKey("search_news"), spec.alias)]
    losses: list[list[Loss]] = []
    with dg.instance_for_test() as instance:
        for indexed in (3, 0):  # a day with posts, then a restore from a lake that held none
            event = dg.AssetMaterialization(
                "search_news", partition=DAYS[0], metadata={"docs_indexed": indexed}
            )
            instance.report_runless_asset_event(event)
            losses.append(lost_indices(es, instance, news))
    (lost,) = losses[0]
    assert (lost.key, lost.partition) == (dg.AssetKey("search_news"), DAYS[0])
    assert lost.reason == "alias steam_news holds 0 documents (its latest build indexed 3)"
    assert losses[1] == []  # empty is what the latest build left: no restore loop


def test_an_unreachable_kibana_is_checked_again_next_tick(closed_port: int, tmp_path: Path) -> None:
    kibana_down = KibanaResource(url=f"http://127.0.0.1:{closed_port}", attempts=1)
    es_unused = ElasticsearchResource(url=f"http://127.0.0.1:{closed_port}")  # nothing indexed: not asked
    defs = _defs(es_unused, kibana_down, LocalLake(root=str(tmp_path)))
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization(KIBANA_ASSET))
        result = _tick(defs, instance)
    assert result.run_requests == []
    assert _reason(result).endswith("Kibana not checked (ConnectionError), next tick")
