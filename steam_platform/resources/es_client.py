"""The search layer's one interface to Elasticsearch: the few REST requests it needs, any server version.

Indexing and reading marts (`steam_platform.assets.search`) talk to Elasticsearch only through
`SearchClient`: index templates, index creation/settings/deletion, aliases, bulk, search, scroll,
count, refresh and the server's info. Each method builds one plain REST request (`EsRequest`: method,
path, query parameters, JSON or NDJSON body) that is valid on Elasticsearch 7.10, 8.x and 9.x alike,
and hands it to a `Send` function chosen for the server at start (`es_transport.connect`): the
official 8.x client for 8/9 servers, the public `elastic_transport.Transport` for 7.x. The same
requests go out whatever the server, so they can be (and are: tests/search/test_es_rest_spec.py)
checked against each version's published REST API specification.

Errors come back as this module's types, whichever transport sent the request: `EsApiError` (the
server answered with an error status; `EsNotFound`, `EsBadRequest`), `EsUnavailable` (no answer
after the transport's retries). Their messages carry the status and Elasticsearch's error type and
reason, never request headers (credentials live only there).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

#: A JSON body (an object) or an NDJSON body (a list of objects, one per line: `_bulk`).
Body = dict[str, Any] | list[dict[str, Any]] | None


@dataclass(frozen=True)
class EsRequest:
    """One REST request as the search layer sends it: what the specification checks look at."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    body: Body = None


@dataclass(frozen=True)
class EsResponse:
    """The status and decoded body of an answer (None for HEAD and empty bodies)."""

    status: int
    body: Any


#: Sends one request and returns the answer whatever its status; raises `EsUnavailable` when the
#: server could not be reached (after the transport's own retries).
Send = Callable[[EsRequest], EsResponse]


class EsError(Exception):
    """Base of the errors the search client raises."""


class EsUnavailable(EsError):
    """No answer from the cluster: connection refused, reset or timed out (after retries)."""


class EsUnsupportedServer(EsError):
    """The server is not an Elasticsearch this platform supports (version, distribution, product)."""


class EsApiError(EsError):
    """Elasticsearch answered a request with an error status."""

    def __init__(self, request: EsRequest, status: int, body: Any) -> None:
        self.status = status
        self.error_type, self.reason = _error_of(body)
        self.body = body
        super().__init__(f"{request.method} {request.path} -> {status} {self.error_type}: {self.reason}")


class EsNotFound(EsApiError):
    """404: the index, alias, template or document does not exist."""


class EsBadRequest(EsApiError):
    """400: the request was refused as invalid (e.g. a mapping conflict)."""


def _error_of(body: Any) -> tuple[str, str]:
    """Elasticsearch's error type and reason (with its causes) from an error body."""
    error = body.get("error") if isinstance(body, dict) else body
    if isinstance(error, dict):
        reason = str(error.get("reason"))
        cause = error.get("caused_by")
        for _ in range(5):  # the chain of causes, innermost last (e.g. the unknown field type)
            if not isinstance(cause, dict):
                break
            reason += f" (caused by {cause.get('type')}: {cause.get('reason')})"
            cause = cause.get("caused_by")
        return str(error.get("type")), reason
    return "error", str(error)[:500]


def _raise_for(request: EsRequest, response: EsResponse) -> None:
    if response.status < 300:
        return
    error = {404: EsNotFound, 400: EsBadRequest}.get(response.status, EsApiError)
    raise error(request, response.status, response.body)


def _path(*parts: str) -> str:
    """A request path from index/alias/template names, each percent-encoded (`*` and `,` kept)."""
    return "/" + "/".join(quote(p, safe="*,") for p in parts)


class SearchClient:
    """The requests the search layer sends, one method each, on any supported server version.

    Built by `ElasticsearchResource.client()`; the transport is picked from the server's version
    when the first request goes out (so an unreachable cluster fails inside the callers' retries,
    not at construction). `version` is the server's version number, e.g. "7.10.2" or "9.1.0".
    """

    def __init__(
        self, send: Send, version: Callable[[], str], close: Callable[[], None] = lambda: None
    ) -> None:
        self._send = send
        self._version = version
        self._close = close

    @property
    def version(self) -> str:
        return self._version()

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    def close(self) -> None:
        """Release the transport's connections."""
        self._close()

    def perform(
        self, method: str, path: str, params: Mapping[str, str] | None = None, body: Body = None
    ) -> Any:
        """Send one request; its decoded body. Error statuses raise `EsApiError` (or a subclass)."""
        request = EsRequest(method, path, dict(params or {}), body)
        response = self._send(request)
        _raise_for(request, response)
        return response.body

    def exists(self, path: str) -> bool:
        """Whether a `HEAD` of `path` finds something (e.g. an index or alias)."""
        request = EsRequest("HEAD", path)
        response = self._send(request)
        if response.status == 404:
            return False
        _raise_for(request, response)
        return True

    # ---- cluster ----------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """`GET /`: name, cluster and version of the node answering."""
        return dict(self.perform("GET", "/"))

    # ---- templates and indices --------------------------------------------------------------
    def put_index_template(self, name: str, template: dict[str, Any]) -> None:
        """Install or replace a composable index template (`PUT /_index_template/<name>`)."""
        self.perform("PUT", _path("_index_template", name), body=template)

    def delete_index_template(self, name: str) -> bool:
        """Delete an index template; False when there was none."""
        try:
            self.perform("DELETE", _path("_index_template", name))
        except EsNotFound:
            return False
        return True

    def create_index(self, index: str, body: dict[str, Any] | None = None) -> None:
        """Create `index` (settings/mappings/aliases in `body`; templates apply too)."""
        self.perform("PUT", _path(index), body=body or {})

    def delete_index(self, index: str) -> None:
        """Delete `index` (a name or pattern); nothing happens when it does not exist."""
        self.perform("DELETE", _path(index), params={"ignore_unavailable": "true"})

    def index_exists(self, index: str) -> bool:
        """Whether an index (or alias) of that name exists."""
        return self.exists(_path(index))

    def get_indices(self, pattern: str) -> list[str]:
        """Names of the indices matching `pattern` (none is not an error)."""
        found = self.perform(
            "GET", _path(pattern), params={"ignore_unavailable": "true", "allow_no_indices": "true"}
        )
        return sorted(found)

    def put_settings(self, index: str, settings: dict[str, Any]) -> None:
        """Update dynamic settings of `index` (e.g. `{"index": {"refresh_interval": None}}`)."""
        self.perform("PUT", _path(index, "_settings"), body=settings)

    def shard_stats(self, index: str) -> dict[str, Any]:
        """`GET /<index>/_stats/docs,store?level=shards`: documents and bytes of every shard copy of
        the indices behind `index` (a name or an alias), under `indices.<name>.shards`."""
        return dict(self.perform("GET", _path(index, "_stats", "docs,store"), params={"level": "shards"}))

    def get_mapping(self, index: str) -> dict[str, Any]:
        """`{index: {"mappings": ...}}` for `index` or the indices behind an alias."""
        return dict(self.perform("GET", _path(index, "_mapping")))

    def refresh(self, index: str) -> None:
        """Make everything written to `index` so far visible to searches."""
        self.perform("POST", _path(index, "_refresh"))

    # ---- aliases ----------------------------------------------------------------------------
    def get_alias(self, *, name: str | None = None, index: str | None = None) -> dict[str, Any]:
        """`{index: {"aliases": {...}}}` for alias `name` or for indices matching `index`.

        Raises `EsNotFound` when alias `name` does not exist; an `index` pattern that matches
        nothing gives `{}`.
        """
        if name is not None:
            path = _path(index, "_alias", name) if index else _path("_alias", name)
            return dict(self.perform("GET", path))
        if index is None:
            raise ValueError("get_alias needs an alias name or an index pattern")
        return dict(self.perform("GET", _path(index, "_alias"), params={"ignore_unavailable": "true"}))

    def update_aliases(self, actions: list[dict[str, Any]]) -> None:
        """Apply alias `actions` (add/remove/remove_index) in one atomic `POST /_aliases`."""
        self.perform("POST", "/_aliases", body={"actions": actions})

    # ---- documents --------------------------------------------------------------------------
    def bulk(self, lines: list[dict[str, Any]]) -> dict[str, Any]:
        """One `POST /_bulk` of NDJSON `lines` (action line, then the source for index ops).

        Returns Elasticsearch's answer (`errors`, `items`); per-document failures are in `items`,
        not raised (see `steam_platform.assets.search.bulk`).
        """
        return dict(self.perform("POST", "/_bulk", body=lines))

    def get_document(self, index: str, doc_id: str) -> dict[str, Any]:
        """The stored `_source` of a document (`EsNotFound` when it does not exist)."""
        return dict(self.perform("GET", _path(index, "_doc", doc_id))["_source"])

    def document_exists(self, index: str, doc_id: str) -> bool:
        """Whether a document with that id exists in `index`."""
        return self.exists(_path(index, "_doc", doc_id))

    # ---- search -----------------------------------------------------------------------------
    def search(
        self, index: str, body: dict[str, Any], params: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """`POST /<index>/_search` with a request body (query, size, sort, aggs, ...)."""
        return dict(self.perform("POST", _path(index, "_search"), params=params, body=body))

    def count(self, index: str, query: dict[str, Any] | None = None) -> int:
        """How many documents of `index` match `query` (all when None)."""
        body = {"query": query} if query is not None else None
        return int(self.perform("POST", _path(index, "_count"), body=body)["count"])

    def scroll_hits(
        self, index: str, body: dict[str, Any], *, page_size: int = 1000, keep_alive: str = "1m"
    ) -> Iterator[dict[str, Any]]:
        """Every hit of a search over `index`, page by page with a scroll (cleared at the end).

        Raises `EsError` when a page misses shards: a partial answer would look like missing data.
        """
        page = self.search(
            index, {**body, "size": page_size, "sort": ["_doc"]}, params={"scroll": keep_alive}
        )
        scroll_id = page.get("_scroll_id")
        try:
            while True:
                shards = page.get("_shards", {})
                if shards.get("successful", 0) < shards.get("total", 0):
                    raise EsError(
                        f"scroll over {index}: {shards.get('successful')} of {shards.get('total')} "
                        "shards answered"
                    )
                hits = page["hits"]["hits"]
                if not hits:
                    return
                yield from hits
                page = self.perform(
                    "POST", "/_search/scroll", body={"scroll": keep_alive, "scroll_id": scroll_id}
                )
                scroll_id = page.get("_scroll_id", scroll_id)
        finally:
            if scroll_id:
                # Best effort: an expired scroll context is already gone.
                with contextlib.suppress(EsError):
                    self.perform("DELETE", "/_search/scroll", body={"scroll_id": [scroll_id]})


__all__ = [
    "Body",
    "EsApiError",
    "EsBadRequest",
    "EsError",
    "EsNotFound",
    "EsRequest",
    "EsResponse",
    "EsUnavailable",
    "EsUnsupportedServer",
    "SearchClient",
    "Send",
]
