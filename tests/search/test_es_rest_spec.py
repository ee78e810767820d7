"""Every request the search layer sends, checked against Elasticsearch 7.10.2, 8.19.1 and 9.5.0's
published REST API specifications (see `es_rest_spec`).

The requests are recorded from the platform's real code paths (`indexer.sync`: template, full
refresh with alias swap and clean-up, partition sync with the scroll over a day's ids and the
stale deletes; and every other `SearchClient` method) running against the local stack's real 7.10.2
node. 8.x and 9.x are not run here (no such server is installable on this machine): their check is
against the specification only. The negative cases show the check fails for what a spec lacks.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pytest
from es_rest_spec import RestSpec, check_all, endpoint_names, load_all
from search_support import game_daily_rows, news_rows, write_partition

from steam_platform.assets.marts.tables import MART_GAME_DAILY
from steam_platform.assets.search import indexer, reader
from steam_platform.assets.search.templates import GAME_DAILY, INDEX_SPECS, NEWS, IndexSpec
from steam_platform.assets.warehouse.tables import FACT_NEWS
from steam_platform.resources.elasticsearch import ElasticsearchResource, ElasticsearchRetrySettings
from steam_platform.resources.es_client import EsRequest, EsResponse, SearchClient
from steam_platform.resources.es_transport import VersionedSender

RETRY = ElasticsearchRetrySettings(attempts=2, initial_wait_s=0.1, max_wait_s=0.5, chunk_size=3)
DAY1, DAY2 = "2026-10-05", "2026-10-06"

#: The APIs the search layer uses, by their names in all three specifications.
EXPECTED_ENDPOINTS = {
    "info",
    "indices.put_index_template",
    "indices.delete_index_template",
    "indices.get_alias",
    "indices.update_aliases",
    "indices.create",
    "indices.delete",
    "indices.get",
    "indices.exists",
    "indices.put_settings",
    "indices.get_mapping",
    "indices.refresh",
    "indices.stats",
    "bulk",
    "search",
    "scroll",
    "clear_scroll",
    "count",
    "get",
    "exists",
}


@pytest.fixture(scope="module")
def specs() -> list[RestSpec]:
    return load_all()


class Recorder:
    """A `Send` that records each request on its way to the real transport."""

    def __init__(self, inner: VersionedSender) -> None:
        self.inner = inner
        self.requests: list[EsRequest] = []

    def __call__(self, request: EsRequest) -> EsResponse:
        self.requests.append(request)
        return self.inner(request)


@pytest.fixture
def recorded(stack_env: dict[str, str]) -> Iterator[tuple[SearchClient, Recorder]]:
    conn = ElasticsearchResource(url=stack_env["ELASTICSEARCH_URL"], request_timeout=60).connection()
    sender = VersionedSender(conn)
    recorder = Recorder(sender)
    yield SearchClient(recorder, sender.version, close=sender.close), recorder
    sender.close()


def _drive_the_search_layer(es: SearchClient, spec: IndexSpec, news: IndexSpec, lake: Path) -> None:
    """The platform's code paths: what the search assets run, plus every other client method."""
    fs = pafs.LocalFileSystem()

    def sync(index_spec: IndexSpec, dt: str, **kw: Any) -> indexer.IndexReport:
        return indexer.sync(
            es,
            index_spec,
            dt,
            load=lambda d: reader.to_documents(
                reader.read_partition(fs, str(lake), index_spec.table, d), index_spec.fields
            ),
            list_partitions=lambda: reader.list_partitions(fs, str(lake), index_spec.table),
            retry=RETRY,
            **kw,
        )

    write_partition(lake, MART_GAME_DAILY, DAY1, game_daily_rows(DAY1))
    write_partition(lake, MART_GAME_DAILY, DAY2, game_daily_rows(DAY2))
    assert sync(spec, DAY2).mode == "full_refresh"  # no alias yet: template, new index, swap
    write_partition(lake, MART_GAME_DAILY, DAY2, game_daily_rows(DAY2)[1:])  # a game left the day
    report = sync(spec, DAY2)  # partition sync: bulk, scroll over the day's ids, stale deletes
    assert (report.mode, report.docs_deleted) == ("partition", 1)
    again = sync(spec, DAY1, force_full_refresh=True)  # replaces the live index, removes the old one
    assert again.old_indices_removed == [report.index]
    write_partition(lake, FACT_NEWS, DAY1, news_rows(DAY1))
    assert sync(news, DAY1).docs_indexed == len(news_rows(DAY1))
    for other in INDEX_SPECS:  # every template the platform installs
        indexer.ensure_template(es, other, replicas=1, retry=RETRY)
    # The rest of the interface (used by tests, benchmarks and operators).
    doc_id = spec.doc_id({**game_daily_rows(DAY1)[0], "dt": DAY1})
    assert es.get_document(spec.alias, doc_id)["dt"] == DAY1
    assert es.document_exists(spec.alias, doc_id) and es.index_exists(spec.alias)
    assert list(es.get_mapping(spec.alias)) == [again.index]
    assert es.get_indices(f"{spec.alias}-v*") == [again.index]
    assert es.search(spec.alias, {"query": {"match": {"app_name.text": "counter"}}, "size": 5})["hits"]
    assert es.count(spec.alias, {"term": {"dt": DAY1}}) == len(game_daily_rows(DAY1))
    shards = es.shard_stats(spec.alias)["indices"][again.index]["shards"]
    assert [copy["docs"]["count"] for copy in shards["0"]] == [es.count(spec.alias)]
    assert es.info()["version"]["number"] == "7.10.2"


def test_every_request_the_search_layer_sends_is_in_the_710_819_and_95_specifications(
    recorded: tuple[SearchClient, Recorder], specs: list[RestSpec], tmp_path: Path
) -> None:
    es, recorder = recorded
    suffix = uuid.uuid4().hex[:6]
    spec = dataclasses.replace(GAME_DAILY, alias=f"t{suffix}_{GAME_DAILY.alias}")
    news = dataclasses.replace(NEWS, alias=f"t{suffix}_{NEWS.alias}")
    try:
        _drive_the_search_layer(es, spec, news, tmp_path)
    finally:
        for s in (spec, news):
            es.delete_index(f"{s.alias}-v*")
            es.delete_index_template(s.template_name)
    # Every kind of request was sent (checked below), not just a few.
    assert [s.version for s in specs] == ["7.10.2", "8.19.1", "9.5.0"]
    for rest_spec in specs:
        assert set(endpoint_names(rest_spec, recorder.requests).values()) == EXPECTED_ENDPOINTS, (
            rest_spec.version
        )
    bulk_lines = [line for r in recorder.requests if r.path == "/_bulk" for line in r.body or []]
    assert {next(iter(line)) for line in bulk_lines if "index" in line or "delete" in line} == {
        "index",
        "delete",
    }
    problems = check_all(specs, recorder.requests)
    assert problems == {"7.10.2": [], "8.19.1": [], "9.5.0": []}


# What a specification lacks fails the check: the request, and the versions whose spec lacks it.
ALL, V8_V9, V710 = {"7.10.2", "8.19.1", "9.5.0"}, {"8.19.1", "9.5.0"}, {"7.10.2"}
BAD_MAPPING = {"properties": {"a": {"type": "keyword", "bogus": 1}}}
DELETE_LINE, TEMPLATE = [{"delete": {"_index": "a", "_id": "1"}}], "/_index_template/t"
ADD_TYPO = {"actions": [{"add": {"index": "b", "aliaz": "c"}}]}
SETTINGS_TYPO = {"index_patterns": ["x"], "template": {"settingz": {}}}
MAPPING_TYPO = {"index_patterns": ["x"], "template": {"mappings": BAD_MAPPING}}
NEGATIVE: list[tuple[EsRequest, set[str], str]] = [
    (EsRequest("GET", "/_bulk"), ALL, "no endpoint"),
    (EsRequest("DELETE", "/x", {"ignore_unavailable": "true", "bogus": "1"}), ALL, "'bogus'"),
    (EsRequest("DELETE", "/x", body={"a": 1}), ALL, "takes no body"),
    # Mapping types are gone in 8: `type` on _bulk and `include_type_name` on create are 7.x only.
    (EsRequest("POST", "/_bulk", {"type": "_doc"}, DELETE_LINE), V8_V9, "'type'"),
    (EsRequest("PUT", "/x", {"include_type_name": "false"}, {}), V8_V9, "include_type_name"),
    # Newer parameters: in 8.x and 9.x only, or in 9.x only.
    (EsRequest("POST", "/_bulk", {"require_data_stream": "true"}, []), V710, "require_data_stream"),
    (EsRequest("GET", "/_alias/a", {"master_timeout": "30s"}), {"7.10.2", "8.19.1"}, "master_timeout"),
    # Body properties (8.x/9.x schemas; 7.10's spec has no body schema), at any depth.
    (EsRequest("POST", "/_bulk", body=[{"index": {"_index": "a", "_idd": "1"}}, {}]), V8_V9, "_idd"),
    (EsRequest("PUT", TEMPLATE, body=SETTINGS_TYPO), V8_V9, "settingz"),
    (EsRequest("PUT", TEMPLATE, body=MAPPING_TYPO), V8_V9, "bogus"),
    (EsRequest("POST", "/x/_search", body={"query": {"bool": {"mustt": []}}}), V8_V9, "mustt"),
    (EsRequest("POST", "/_aliases", body=ADD_TYPO), V8_V9, "aliaz"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("request_", "failing", "named"), NEGATIVE, ids=[f"{r.method} {r.path} {n}" for r, _, n in NEGATIVE]
)
def test_a_request_a_specification_lacks_fails_the_check(
    specs: list[RestSpec], request_: EsRequest, failing: set[str], named: str
) -> None:
    problems = check_all(specs, [request_])
    assert {version for version, found in problems.items() if found} == failing
    for version in failing:
        assert any(named in p for p in problems[version]), problems[version]
