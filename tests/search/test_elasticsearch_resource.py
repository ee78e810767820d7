"""ElasticsearchResource without a real server: authentication, secrets kept out of text, and the
transport picked from the server's version (a fake node answering as 7.10 OSS, 8.19 or 9.5)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import pytest
from http_fake import respond, serve_handler

from steam_platform.assets.search import bulk
from steam_platform.resources.elasticsearch import ElasticsearchResource, ElasticsearchRetrySettings
from steam_platform.resources.es_client import EsNotFound, EsUnavailable, EsUnsupportedServer
from steam_platform.resources.es_transport import VersionedSender

SECRET = "s3cr3t-Value"
RETRY = ElasticsearchRetrySettings(attempts=2, initial_wait_s=0.01, max_wait_s=0.02, chunk_size=2)


class FakeNode(BaseHTTPRequestHandler):
    """An Elasticsearch node of `version`: the headers 8.x/9.x send (product, compatible media
    types), 9.x's refusal of media types it cannot serve, and every request recorded."""

    version: ClassVar[str] = "7.10.2"
    flavor: ClassVar[str] = "oss"
    product_header: ClassVar[bool] = False
    received: ClassVar[list[dict[str, Any]]] = []
    #: How many `_bulk` requests to refuse as a whole with 429 (the cluster's write queue is full).
    refuse_bulks: ClassVar[int] = 0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        parts = urlsplit(self.path)
        self.received.append(
            {
                "method": self.command,
                "path": parts.path,
                "params": dict(parse_qsl(parts.query)),
                "accept": self.headers.get("Accept", ""),
                "content_type": self.headers.get("Content-Type", ""),
                "authorization": self.headers.get("Authorization", ""),
                "body": [json.loads(line) for line in raw.splitlines() if line.strip()],
            }
        )
        major = int(self.version.split(".")[0])
        accept = self.headers.get("Accept", "")
        headers = {"X-Elastic-Product": "Elasticsearch"} if self.product_header else {}
        content_type = "application/json"
        if "compatible-with=" in accept:
            asked = int(accept.rsplit("compatible-with=", 1)[1].split(";")[0])
            if asked not in (major, major - 1):  # REST API compatibility: this major and the one before
                body = {"error": {"type": "media_type_header_exception", "reason": "Invalid media-type"}}
                respond(self, 400, json.dumps(body).encode(), content_type, headers)
                return
            content_type = f"application/vnd.elasticsearch+json;compatible-with={asked}"
        if self.command == "GET" and parts.path == "/":
            body = {
                "name": "fake",
                "version": {"number": self.version, "build_flavor": self.flavor},
                "tagline": "You Know, for Search",
            }
            respond(self, 200, json.dumps(body).encode(), content_type, headers)
        elif parts.path == "/_bulk" and FakeNode.refuse_bulks > 0:
            FakeNode.refuse_bulks -= 1
            body = {
                "error": {"type": "es_rejected_execution_exception", "reason": "queue full"},
                "status": 429,
            }
            respond(self, 429, json.dumps(body).encode(), content_type, headers)
        elif parts.path == "/_bulk":
            items = [{next(iter(op)): {"_id": next(iter(op.values()))["_id"], "status": 201}} for op in
                     self.received[-1]["body"] if next(iter(op)) in ("index", "delete")]  # fmt: skip
            respond(self, 200, json.dumps({"errors": False, "items": items}).encode(), content_type, headers)
        elif parts.path.startswith("/_alias/"):
            error = {"error": {"type": "aliases_not_found_exception", "reason": "missing"}, "status": 404}
            respond(self, 404, json.dumps(error).encode(), content_type, headers)
        else:
            respond(self, 200, b'{"acknowledged": true}', content_type, headers)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


@pytest.fixture
def node() -> Iterator[tuple[type[FakeNode], str]]:
    FakeNode.received, FakeNode.refuse_bulks = [], 0
    FakeNode.version, FakeNode.flavor, FakeNode.product_header = "7.10.2", "oss", False
    with serve_handler(FakeNode) as url:
        yield FakeNode, url


def _as(node: type[FakeNode], version: str, product_header: bool = True, flavor: str = "default") -> None:
    node.version, node.product_header, node.flavor = version, product_header, flavor


def test_secrets_are_not_in_repr() -> None:
    basic = ElasticsearchResource(url="https://es.example:9200", username="indexer", password=SECRET)
    keyed = ElasticsearchResource(url="https://es.example:9200", api_key=SECRET)
    for resource in (basic, keyed):
        for text in (repr(resource), str(resource), repr(resource.connection())):
            assert SECRET not in text


def test_basic_auth_and_options_reach_the_node_config() -> None:
    resource = ElasticsearchResource(
        url="https://es.example:9200", username="indexer", password=SECRET, request_timeout=12.5
    )
    node = resource.connection().node_config()
    assert (node.scheme, node.host, node.port, node.request_timeout) == ("https", "es.example", 9200, 12.5)
    assert node.headers["authorization"].startswith("Basic ")
    keyed = ElasticsearchResource(url="http://127.0.0.1:1", api_key=SECRET).connection().node_config()
    assert keyed.headers["authorization"] == f"ApiKey {SECRET}"


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
    with pytest.raises(EsUnavailable) as excinfo:
        resource.client().info()
    assert SECRET not in str(excinfo.value) and SECRET not in repr(excinfo.value)
    assert excinfo.value.__cause__ is None  # the transport's exception (and its request) is dropped


def test_710_oss_goes_through_elastic_transport_with_plain_json(node: tuple[type[FakeNode], str]) -> None:
    fake, url = node
    client = ElasticsearchResource(url=url, api_key=SECRET).client()
    assert client.version == "7.10.2" and client.major == 7
    client.put_index_template("t", {"index_patterns": ["x-*"]})
    first, second = fake.received
    assert (first["method"], first["path"]) == ("GET", "/")  # the version probe
    assert (second["method"], second["path"]) == ("PUT", "/_index_template/t")
    assert second["accept"] == "application/json" and second["content_type"] == "application/json"
    assert second["authorization"] == f"ApiKey {SECRET}"
    client.close()


@pytest.mark.parametrize("version", ["8.19.0", "9.5.0"])
def test_8x_and_9x_go_through_the_official_client_with_compatible_with_8(
    node: tuple[type[FakeNode], str], version: str
) -> None:
    fake, url = node
    _as(fake, version)
    resource = ElasticsearchResource(url=url, username="indexer", password=SECRET)
    client = resource.client()
    assert client.version == version
    sender = client._send
    assert isinstance(sender, VersionedSender) and sender.transport_name == "elasticsearch-py"
    actions = [{"_op_type": "index", "_index": "a", "_id": str(i), "_source": {"n": i}} for i in range(3)]
    actions.append({"_op_type": "delete", "_index": "a", "_id": "old"})
    outcome = bulk.write(client, actions, RETRY)
    assert outcome.succeeded == 4 and outcome.failed == ()
    with pytest.raises(EsNotFound):
        client.get_alias(name="missing")
    client.close()
    sent = [r for r in fake.received if r["path"] != "/"]
    assert [(r["method"], r["path"]) for r in sent] == [("POST", "/_bulk")] * 2 + [("GET", "/_alias/missing")]
    assert all(r["accept"] == "application/vnd.elasticsearch+json; compatible-with=8" for r in sent)
    assert sent[0]["content_type"] == "application/vnd.elasticsearch+x-ndjson; compatible-with=8"
    first_chunk = [
        {"index": {"_index": "a", "_id": "0"}},
        {"n": 0},
        {"index": {"_index": "a", "_id": "1"}},
        {"n": 1},
    ]
    assert sent[0]["body"] == first_chunk
    assert sent[1]["body"][-1] == {"delete": {"_index": "a", "_id": "old"}}
    assert all(r["authorization"].startswith("Basic ") for r in fake.received)


@pytest.mark.parametrize(
    ("version", "product_header", "flavor", "message"),
    [
        ("8.19.0", False, "default", "did not identify as Elasticsearch"),  # a proxy or another product
        ("7.9.3", False, "oss", "7.9.3 is not supported"),  # before composable index templates
        ("6.8.23", False, "default", "6.8.23 is not supported"),
        ("10.0.0", True, "default", "10.0.0 is not supported"),  # the 8.x client cannot speak to it
    ],
)
def test_unsupported_servers_are_refused_clearly(
    node: tuple[type[FakeNode], str], version: str, product_header: bool, flavor: str, message: str
) -> None:
    fake, url = node
    _as(fake, version, product_header, flavor)
    client = ElasticsearchResource(url=url, api_key=SECRET).client()
    with pytest.raises(EsUnsupportedServer, match=message) as excinfo:
        client.refresh("x")
    assert SECRET not in str(excinfo.value)


def test_a_bulk_refused_as_a_whole_is_retried_then_reported_per_document(
    node: tuple[type[FakeNode], str],
) -> None:
    fake, url = node
    client = ElasticsearchResource(url=url).client()
    actions = [{"_op_type": "index", "_index": "a", "_id": str(i), "_source": {"n": i}} for i in range(3)]
    fake.refuse_bulks = 1  # the first round's first chunk: retried in the next round with back-off
    outcome = bulk.write(client, actions, RETRY)
    assert (outcome.succeeded, outcome.failed) == (3, ())
    fake.refuse_bulks = 10  # refused in every round: each document reported, transient, with the reason
    outcome = bulk.write(client, actions, RETRY)
    assert outcome.succeeded == 0 and len(outcome.failed) == 3
    assert {(f.status, f.transient) for f in outcome.failed} == {(429, True)}
    assert "es_rejected_execution_exception: queue full" in outcome.failed[0].reason
    client.close()
