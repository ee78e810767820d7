"""Elasticsearch access for the search layer: marts and Steam news made searchable (and Kibana-ready).

The platform indexes its marts and news into Elasticsearch behind aliases; this resource is the one
place that knows where the cluster is and how to authenticate. Locally that is the single
Elasticsearch 7.10.2 OSS node of the local stack (no security); in production an Elasticsearch 8.x
or 9.x cluster over HTTPS with basic auth or an API key, filled in by the definitions through
`dg.EnvVar` (settings: `ELASTICSEARCH_URL`, `ELASTICSEARCH_USERNAME`/`_PASSWORD` or `_API_KEY`).

`client()` asks the server its version once (`GET /`) and returns the search layer's one interface,
`es_client.SearchClient`, over the transport that version needs (`es_transport`: the official 8.x
client for 8/9, `elastic_transport` for 7.x). Secrets are excluded from the resource's repr, travel
only as the `Authorization` header, and never appear in the messages this module raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import dagster as dg
from pydantic import ConfigDict, Field

from steam_platform.resources.es_client import SearchClient
from steam_platform.resources.es_transport import EsConnection, api_key_header, basic_auth_header, connect


@dataclass(frozen=True)
class ElasticsearchRetrySettings:
    """How hard indexing tries before giving up on the cluster: attempts and back-off bounds
    (seconds) for single calls and bulk rounds, and the bulk chunking."""

    attempts: int = 5
    initial_wait_s: float = 1.0
    max_wait_s: float = 30.0
    chunk_size: int = 500


class ElasticsearchResource(dg.ConfigurableResource):
    """Where the platform's search cluster is and how to reach it, for indexing and searching.

    Authenticate with `username`/`password` (basic auth) or `api_key`, not both; leave all three
    unset for the local stack. Credentials belong in these fields (filled via `dg.EnvVar`), never in
    `url`, so they cannot leak through URLs in logs and error messages.
    """

    url: str = Field(description="Base URL of the cluster, e.g. http://127.0.0.1:19200 (no credentials).")
    username: str | None = Field(default=None, description="Basic-auth user; fill with EnvVar.")
    password: str | None = Field(default=None, repr=False, description="Secret; fill with EnvVar.")
    api_key: str | None = Field(
        default=None,
        repr=False,
        description="Secret: the base64 'id:api_key' string Elasticsearch returns; fill with EnvVar.",
    )
    verify_certs: bool = Field(default=True, description="Verify the server's TLS certificate (https).")
    ca_certs: str | None = Field(default=None, description="CA bundle path for a private CA (https).")
    request_timeout: float = Field(default=30.0, description="Seconds before a request times out.")
    max_retries: int = Field(default=3, description="Retries on connection errors, timeouts, 502-504.")
    index_replicas: int = Field(
        default=0, description="Replicas per search index (0 on the one-node local stack, 1+ on a cluster)."
    )
    index_shards: int = Field(
        default=1,
        description="Primary shards of each new search index; one holds years of these tables "
        "(docs/elasticsearch.md). A change applies at the next full refresh.",
    )
    bulk_chunk_size: int = Field(default=500, description="Documents per bulk request when indexing.")
    retry_attempts: int = Field(
        default=5, description="Attempts (with exponential back-off) before indexing gives up on the cluster."
    )
    # A wrongly typed value in a validation error would otherwise quote the input (e.g. a secret).
    model_config = ConfigDict(hide_input_in_errors=True)

    def _checked_url(self) -> str:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # The URL carries no secret once userinfo is rejected below, but say only what is wrong.
            raise ValueError("ElasticsearchResource.url must be an http(s) URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                "ElasticsearchResource.url must not contain credentials; use username/password or api_key"
            )
        return self.url

    def connection(self) -> EsConnection:
        """The validated connection settings (URL, credentials as a header, TLS, timeouts)."""
        if self.api_key and (self.username or self.password):
            raise ValueError("ElasticsearchResource: set either username/password or api_key, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("ElasticsearchResource: username and password must be set together")
        auth = None
        if self.username is not None and self.password is not None:
            auth = basic_auth_header(self.username, self.password)
        elif self.api_key:
            auth = api_key_header(self.api_key)
        return EsConnection(
            url=self._checked_url(),
            auth_header=auth,
            verify_certs=self.verify_certs,
            ca_certs=self.ca_certs,
            request_timeout=self.request_timeout,
            max_retries=self.max_retries,
        )

    def client(self) -> SearchClient:
        """The search layer's client for this cluster (cheap; close it after use). Its first request
        asks the server's version (`GET /`) and picks the transport; requests raise `EsUnavailable`
        when the cluster cannot be reached, `EsUnsupportedServer` for versions other than 7.10+,
        8.x and 9.x."""
        return connect(self.connection())

    def retry_settings(self) -> ElasticsearchRetrySettings:
        """Back-off and chunking for the search layer's indexing (its bulk writes and cluster calls)."""
        return ElasticsearchRetrySettings(attempts=self.retry_attempts, chunk_size=self.bulk_chunk_size)

    def server_version(self) -> str:
        """The cluster's version number (e.g. "7.10.2" or "9.1.0")."""
        client = self.client()
        client.close()
        return client.version
