"""Elasticsearch through the platform's resource, against the real 7.10.2 node of the local stack."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from steam_platform.resources.elasticsearch import ElasticsearchResource
from steam_platform.resources.es_client import EsBadRequest, SearchClient

#: An explicit, strict mapping of the kind the marts get: unknown fields are rejected, not guessed.
MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "appid": {"type": "integer"},
        "title": {
            "type": "text",
            "fields": {
                "raw": {"type": "keyword"},
                # Bigrams for Chinese/Japanese/Korean titles (analysis-common module).
                "cjk": {"type": "text", "analyzer": "cjk"},
            },
        },
        "genres": {"type": "keyword"},
        "peak_players": {"type": "long"},
        "price_eur": {"type": "scaled_float", "scaling_factor": 100},  # mapper-extras module
        "release_date": {"type": "date", "format": "strict_date"},
    },
}

#: Black Myth: Wukong as the store spells it, with a fullwidth colon (U+FF1A), on purpose.
WUKONG = "黑神话：悟空"  # noqa: RUF001

GAMES: list[dict[str, Any]] = [
    {
        "appid": 730,
        "title": "Counter-Strike 2",
        "genres": ["Action", "Free to Play"],
        "peak_players": 1_862_531,
        "price_eur": 0.0,
        "release_date": "2012-08-21",
    },
    {
        "appid": 570,
        "title": "Dota 2",
        "genres": ["Strategy", "Free to Play"],
        "peak_players": 1_295_114,
        "price_eur": 0.0,
        "release_date": "2013-07-09",
    },
    {
        "appid": 1599340,
        "title": "로스트아크",  # Lost Ark (Korean)
        "genres": ["Action", "RPG", "Free to Play"],
        "peak_players": 1_325_305,
        "price_eur": 0.0,
        "release_date": "2022-02-11",
    },
    {
        "appid": 2358720,
        "title": WUKONG,
        "genres": ["Action", "RPG"],
        "peak_players": 2_415_714,
        "price_eur": 59.99,
        "release_date": "2024-08-20",
    },
]


@pytest.fixture(scope="module")
def es_resource(stack_env: dict[str, str]) -> ElasticsearchResource:
    return ElasticsearchResource(url=stack_env["ELASTICSEARCH_URL"], request_timeout=60)


@pytest.fixture(scope="module")
def es(es_resource: ElasticsearchResource) -> Iterator[SearchClient]:
    client = es_resource.client()
    yield client
    client.close()


@pytest.fixture
def games_index(es: SearchClient) -> Iterator[str]:
    """A fresh index with the explicit mapping and the four games, refreshed for search."""
    index = f"test-games-{uuid.uuid4().hex[:8]}"
    es.create_index(
        index, {"settings": {"number_of_shards": 1, "number_of_replicas": 0}, "mappings": MAPPING}
    )
    try:
        for game in GAMES:
            es.perform("PUT", f"/{index}/_doc/{game['appid']}", body=game)
        es.refresh(index)
        yield index
    finally:
        es.delete_index(index)


def _ids(response: dict[str, Any]) -> list[str]:
    return [hit["_id"] for hit in response["hits"]["hits"]]


def test_local_node_is_710_oss_reached_without_the_official_client(
    es_resource: ElasticsearchResource, es: SearchClient
) -> None:
    version = es_resource.server_version()
    assert version == es.version == "7.10.2"
    info = es.info()
    assert info["tagline"] == "You Know, for Search"
    assert info["version"]["build_flavor"] == "oss"


def test_single_node_cluster_is_healthy(es: SearchClient) -> None:
    health = es.perform("GET", "/_cluster/health")
    assert health["number_of_nodes"] == 1
    assert health["status"] in ("green", "yellow")
    settings = es.perform(
        "GET", "/_cluster/settings", params={"include_defaults": "true", "flat_settings": "true"}
    )
    assert settings["defaults"]["cluster.routing.allocation.disk.threshold_enabled"] == "false"


def test_index_with_explicit_mapping_and_search(es: SearchClient, games_index: str) -> None:
    stored = es.get_mapping(games_index)[games_index]["mappings"]
    assert stored["dynamic"] == "strict"
    assert stored["properties"]["title"]["fields"]["cjk"]["analyzer"] == "cjk"
    assert stored["properties"]["price_eur"]["type"] == "scaled_float"
    assert es.count(games_index) == len(GAMES)
    health = es.perform(
        "GET", f"/_cluster/health/{games_index}", params={"wait_for_status": "green", "timeout": "30s"}
    )
    assert health["status"] == "green"

    # Korean and Chinese titles: found by a partial word through the CJK bigram analyzer...
    korean = es.search(games_index, {"query": {"match": {"title.cjk": "로스트"}}})
    assert _ids(korean) == ["1599340"]
    chinese = es.search(games_index, {"query": {"match": {"title.cjk": "悟空"}}})
    assert _ids(chinese) == ["2358720"]
    # ...by exact keyword, and returned byte-for-byte in _source.
    exact = es.search(games_index, {"query": {"term": {"title.raw": WUKONG}}})
    assert exact["hits"]["hits"][0]["_source"]["title"] == WUKONG
    assert es.get_document(games_index, "1599340")["title"] == "로스트아크"

    # Filters, sorting and an aggregation a dashboard panel would use.
    rpg_by_peak = es.search(
        games_index,
        {
            "query": {"bool": {"filter": [{"term": {"genres": "RPG"}}]}},
            "sort": [{"peak_players": {"order": "desc"}}],
        },
    )
    assert _ids(rpg_by_peak) == ["2358720", "1599340"]
    paid = es.search(games_index, {"query": {"range": {"price_eur": {"gt": 10}}}})
    assert _ids(paid) == ["2358720"]
    assert paid["hits"]["hits"][0]["_source"]["price_eur"] == pytest.approx(59.99)

    aggs = es.search(
        games_index,
        {
            "size": 0,
            "aggs": {
                "genres": {"terms": {"field": "genres"}},
                "peak": {"max": {"field": "peak_players"}},
                "released_after_2020": {"filter": {"range": {"release_date": {"gte": "2020-01-01"}}}},
            },
        },
    )["aggregations"]
    buckets = {b["key"]: b["doc_count"] for b in aggs["genres"]["buckets"]}
    assert buckets == {"Action": 3, "Free to Play": 3, "RPG": 2, "Strategy": 1}
    assert aggs["peak"]["value"] == 2_415_714
    assert aggs["released_after_2020"]["doc_count"] == 2

    full_text = es.search(games_index, {"query": {"match": {"title": "counter strike"}}})
    assert _ids(full_text) == ["730"]


def test_strict_mapping_rejects_unknown_fields(es: SearchClient, games_index: str) -> None:
    with pytest.raises(EsBadRequest) as excinfo:
        es.perform("PUT", f"/{games_index}/_doc/1", body={"appid": 1, "unexpected": "field"})
    assert excinfo.value.status == 400
    assert excinfo.value.error_type == "strict_dynamic_mapping_exception"
