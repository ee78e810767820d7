"""ElasticsearchResource without a server: authentication choices and secrets kept out of text."""

from __future__ import annotations

from typing import Any

import pytest
from elasticsearch import ConnectionError as EsConnectionError

from steam_platform.resources.elasticsearch import ElasticsearchResource, _OssTolerantTransport

SECRET = "s3cr3t-Value"


def test_secrets_are_not_in_repr() -> None:
    basic = ElasticsearchResource(url="https://es.example:9200", username="indexer", password=SECRET)
    keyed = ElasticsearchResource(url="https://es.example:9200", api_key=SECRET)
    for resource in (basic, keyed):
        assert SECRET not in repr(resource)
        assert SECRET not in str(resource)


def test_basic_auth_and_options_reach_the_client() -> None:
    resource = ElasticsearchResource(
        url="https://es.example:9200", username="indexer", password=SECRET, request_timeout=12.5
    )
    client = resource.client()
    conn = client.transport.connection_pool.connections[0]
    assert conn.host == "https://es.example:9200"
    assert conn.timeout == 12.5
    assert conn.headers["authorization"].startswith("Basic ")
    assert isinstance(client.transport, _OssTolerantTransport)


def test_api_key_header() -> None:
    client = ElasticsearchResource(url="http://127.0.0.1:1", api_key=SECRET).client()
    assert client.transport.connection_pool.connections[0].headers["authorization"] == f"ApiKey {SECRET}"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"url": f"https://indexer:{SECRET}@es.example:9200"},
        {"url": "https://es.example:9200", "username": "indexer", "password": SECRET, "api_key": SECRET},
        {"url": "https://es.example:9200", "password": SECRET},
        {"url": "es.example:9200"},
    ],
)
def test_bad_settings_fail_without_showing_secrets(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as excinfo:
        ElasticsearchResource(**kwargs).client()
    assert SECRET not in str(excinfo.value)


def test_connection_errors_do_not_show_credentials() -> None:
    resource = ElasticsearchResource(
        url="http://127.0.0.1:9", username="indexer", password=SECRET, max_retries=0, request_timeout=2
    )
    with pytest.raises(EsConnectionError) as excinfo:
        resource.client().info()
    assert SECRET not in str(excinfo.value)
    assert SECRET not in repr(excinfo.value)
