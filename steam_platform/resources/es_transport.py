"""Which transport carries the search layer's requests, chosen from the server's version at start.

Elastic's compatibility rules (elasticsearch-py docs, "Compatibility"; Elasticsearch "REST API
compatibility"): a client works with servers of its own major and later minors; the 8.x client
sends `compatible-with=8` media types, which 8.x servers and 9.x servers (REST compatibility with
the previous major) accept; the 9.x client speaks to 9.x only; 8.x and 9.x clients refuse any server
whose answers lack `X-Elastic-Product: Elasticsearch` - every 7.x server before 7.14 and every OSS
build, e.g. the local stack's Elasticsearch 7.10.2 OSS (the only Elasticsearch installable here,
from Maven Central). So no one client serves 7.10 OSS, 8 and 9; we pick per server:

- 8.x and 9.x: the official `elasticsearch` 8.19 client (`Elasticsearch.perform_request`, its public
  API for arbitrary requests), with its product check and compatibility headers: pinned
  `elasticsearch>=8.19,<9` because only the 8.x client is documented to serve both majors.
- 7.x (7.10 and later minors): `elastic_transport.Transport` with one `NodeConfig` - the public
  transport library the official client itself is built on (same connection pooling, TLS and
  retries), sending plain `application/json`; the version probe doubles as the product check
  (Elasticsearch's tagline). No private client names, no subclassing.

Both carry the very same `EsRequest`s built by `es_client.SearchClient`, so the search layer is one
code path. Retries on connection errors, timeouts and 502/503/504 happen here (`max_retries`);
back-off across longer outages and per-document 429s is the search layer's (`search.bulk`).
Credentials travel only as the `Authorization` header of the node config; no message raised here
quotes a header or the URL's userinfo (the resource rejects URLs with credentials).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import elastic_transport
import elasticsearch

from steam_platform.resources.es_client import (
    EsError,
    EsRequest,
    EsResponse,
    EsUnavailable,
    EsUnsupportedServer,
    SearchClient,
)

#: Statuses the transport retries at once (the node restarting or overloaded); 429 is left to the
#: search layer's back-off.
RETRY_ON_STATUS = (502, 503, 504)
#: Server majors the platform supports, and the oldest 7.x minor (composable index templates).
SUPPORTED_MAJORS = (7, 8, 9)
MIN_7X_MINOR = 10
TAGLINE = "You Know, for Search"


@dataclass(frozen=True)
class EsConnection:
    """Where the cluster is and how to reach it: what both transports are configured from."""

    url: str
    auth_header: str | None = field(default=None, repr=False)
    verify_certs: bool = True
    ca_certs: str | None = None
    request_timeout: float = 30.0
    max_retries: int = 3

    def node_config(self) -> elastic_transport.NodeConfig:
        """The `elastic_transport` node for `url`, with the credentials as a header."""
        parts = urlsplit(self.url)
        scheme = parts.scheme
        port = parts.port or (443 if scheme == "https" else 9200)
        headers = {"authorization": self.auth_header} if self.auth_header else {}
        return elastic_transport.NodeConfig(
            scheme=scheme,
            host=parts.hostname or "",
            port=port,
            path_prefix=parts.path.rstrip("/"),
            headers=headers,
            request_timeout=self.request_timeout,
            verify_certs=self.verify_certs,
            ca_certs=self.ca_certs,
        )


def basic_auth_header(username: str, password: str) -> str:
    """The `Authorization` value for HTTP basic auth."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def api_key_header(api_key: str) -> str:
    """The `Authorization` value for an Elasticsearch API key (the encoded `id:key` string)."""
    return f"ApiKey {api_key}"


def _headers(request: EsRequest) -> dict[str, str]:
    headers = {"accept": "application/json"}
    if isinstance(request.body, list):
        headers["content-type"] = "application/x-ndjson"
    elif request.body is not None:
        headers["content-type"] = "application/json"
    return headers


def _target(request: EsRequest) -> str:
    if not request.params:
        return request.path
    return f"{request.path}?{urlencode(dict(request.params))}"


#: No answer at all: refused, reset, timed out, TLS failed (after the transport's retries).
_NO_ANSWER = (elastic_transport.ConnectionError, elastic_transport.ConnectionTimeout)


def _unavailable(conn: EsConnection, exc: Exception) -> EsUnavailable:
    # elastic_transport's messages name the node and the cause, never the request's headers.
    return EsUnavailable(f"Elasticsearch at {conn.url} unreachable: {type(exc).__name__}: {exc}")


def _unreadable(conn: EsConnection, exc: Exception) -> EsError:
    """An answer that could not be read (e.g. not JSON): not transient, so not retried."""
    return EsError(f"Elasticsearch at {conn.url} sent an unreadable answer: {type(exc).__name__}: {exc}")


def transport_for(conn: EsConnection) -> elastic_transport.Transport:
    """A plain `elastic_transport.Transport` to the node, retrying like the official client."""
    return elastic_transport.Transport(
        [conn.node_config()],
        max_retries=conn.max_retries,
        retry_on_status=RETRY_ON_STATUS,
        retry_on_timeout=True,
    )


class TransportSender:
    """Sends `EsRequest`s through `elastic_transport.Transport` as plain JSON/NDJSON (7.x servers)."""

    def __init__(self, conn: EsConnection, transport: elastic_transport.Transport) -> None:
        self._conn, self._transport = conn, transport

    def __call__(self, request: EsRequest) -> EsResponse:
        try:
            meta, body = self._transport.perform_request(
                request.method, _target(request), body=request.body, headers=_headers(request)
            )
        except _NO_ANSWER as exc:
            raise _unavailable(self._conn, exc) from None
        except elastic_transport.TransportError as exc:
            raise _unreadable(self._conn, exc) from None
        return EsResponse(meta.status, None if request.method == "HEAD" else body)

    def close(self) -> None:
        self._transport.close()


class OfficialClientSender:
    """Sends `EsRequest`s through the official 8.x client (8.x and 9.x servers).

    `perform_request` adds the client's `compatible-with=8` media types and product check; an error
    status comes back as an answer (like `TransportSender`), so `SearchClient` handles both alike.
    """

    def __init__(self, conn: EsConnection) -> None:
        self._conn = conn
        node = conn.node_config()
        self.client = elasticsearch.Elasticsearch(
            hosts=[node],
            request_timeout=conn.request_timeout,
            max_retries=conn.max_retries,
            retry_on_status=RETRY_ON_STATUS,
            retry_on_timeout=True,
        )

    def __call__(self, request: EsRequest) -> EsResponse:
        try:
            response = self.client.perform_request(
                request.method,
                request.path,
                params=request.params or None,
                headers=_headers(request),
                body=request.body,
            )
        except elasticsearch.UnsupportedProductError:
            raise EsUnsupportedServer(
                f"the server at {self._conn.url} did not identify as Elasticsearch (no X-Elastic-Product)"
            ) from None
        except elasticsearch.ApiError as exc:
            return EsResponse(exc.meta.status, exc.body)
        except _NO_ANSWER as exc:
            raise _unavailable(self._conn, exc) from None
        except elastic_transport.TransportError as exc:
            raise _unreadable(self._conn, exc) from None
        return EsResponse(response.meta.status, None if request.method == "HEAD" else response.body)

    def close(self) -> None:
        self.client.close()


def probe(conn: EsConnection, transport: elastic_transport.Transport) -> Mapping[str, Any]:
    """`GET /` of the node: its info (version, tagline), whatever its major."""
    response = TransportSender(conn, transport)(EsRequest("GET", "/"))
    if response.status >= 300 or not isinstance(response.body, dict):
        reason = ""
        if isinstance(response.body, dict) and isinstance(response.body.get("error"), dict):
            reason = f": {response.body['error'].get('type')}"
        raise EsUnsupportedServer(f"GET / on {conn.url} answered {response.status}{reason}")
    return response.body


def check_version(info: Mapping[str, Any]) -> tuple[int, int]:
    """The server's (major, minor), if the platform supports it; else `EsUnsupportedServer`."""
    number = str(info.get("version", {}).get("number", ""))
    try:
        major, minor = (int(x) for x in number.split(".")[:2])
    except ValueError:
        raise EsUnsupportedServer(f"the server reports no Elasticsearch version ({number!r})") from None
    if info.get("tagline") != TAGLINE and major == 7:
        raise EsUnsupportedServer("the server does not identify as Elasticsearch (tagline)")
    if major not in SUPPORTED_MAJORS or (major == 7 and minor < MIN_7X_MINOR):
        raise EsUnsupportedServer(
            f"Elasticsearch {number} is not supported: 7.{MIN_7X_MINOR}+, 8.x or 9.x are "
            "(see docs/elasticsearch.md)"
        )
    return major, minor


class VersionedSender:
    """Picks the transport on first use from the server's version (`GET /`), then sends through it.

    A failed probe (cluster unreachable, unsupported version) raises and is tried again on the next
    request, so callers' retries with back-off cover the probe too.
    """

    def __init__(self, conn: EsConnection) -> None:
        self._conn = conn
        self._chosen: TransportSender | OfficialClientSender | None = None
        self._version = ""
        self._lock = threading.Lock()  # one probe, also when threads share the client

    def _choose(self) -> TransportSender | OfficialClientSender:
        with self._lock:
            return self._choose_locked()

    def _choose_locked(self) -> TransportSender | OfficialClientSender:
        if self._chosen is None:
            transport = transport_for(self._conn)
            try:
                info = probe(self._conn, transport)
                major, _ = check_version(info)
            except BaseException:
                transport.close()
                raise
            self._version = str(info["version"]["number"])
            if major == 7:
                self._chosen = TransportSender(self._conn, transport)
            else:
                transport.close()
                self._chosen = OfficialClientSender(self._conn)
        return self._chosen

    @property
    def transport_name(self) -> str:
        """Which transport carries the requests: "elastic_transport" (7.x) or "elasticsearch-py"."""
        return "elastic_transport" if isinstance(self._choose(), TransportSender) else "elasticsearch-py"

    def version(self) -> str:
        self._choose()
        return self._version

    def __call__(self, request: EsRequest) -> EsResponse:
        return self._choose()(request)

    def close(self) -> None:
        with self._lock:
            if self._chosen is not None:
                self._chosen.close()
                self._chosen = None


def connect(conn: EsConnection) -> SearchClient:
    """A `SearchClient` for the server at `conn.url`, over the transport its version needs."""
    sender = VersionedSender(conn)
    return SearchClient(sender, sender.version, close=sender.close)
