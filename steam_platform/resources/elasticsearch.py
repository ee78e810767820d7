"""Elasticsearch access for the search layer: marts and Steam news made searchable (and Kibana-ready).

The platform indexes its marts and news into Elasticsearch behind aliases; this resource is the one
place that knows where the cluster is and how to authenticate. Locally that is the single
Elasticsearch 7.10.2 node of the local stack (no security); in production an HTTPS cluster with
basic auth or an API key, filled in by the definitions through `dg.EnvVar`. Secrets are excluded from
the resource's repr and never appear in the messages this module raises.

The client is the 7.x Python client (its major matches the servers: 7.10 locally, 7.17 in
production). Since 7.14 that client refuses 7.0-7.13 servers whose `build_flavor` is not
"default", i.e. the Apache-2.0 "oss" build the local stack runs; `accept_oss_distribution` lets
exactly that case through while every other product check (e.g. "this is not Elasticsearch") stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
from elasticsearch import Elasticsearch, Transport

# The product check is internal to the 7.x client (not in its type stubs); 7.17 is the last 7.x line
# and the dependency is pinned below 8, so these internals no longer change.
from elasticsearch.transport import _ProductChecker  # type: ignore[attr-defined]
from pydantic import ConfigDict, Field


@dataclass(frozen=True)
class ElasticsearchRetrySettings:
    """How hard indexing tries before giving up on the cluster: attempts and back-off bounds
    (seconds) for single calls and bulk rounds, and the bulk chunking."""

    attempts: int = 5
    initial_wait_s: float = 1.0
    max_wait_s: float = 30.0
    chunk_size: int = 500
    #: Back-off retries of 429-refused documents inside one streaming_bulk pass.
    chunk_429_retries: int = 3


class _OssTolerantTransport(Transport):
    """A transport that accepts an Elasticsearch OSS build (flavor "oss") of versions 7.0-7.13.

    The 7.x client verifies the product once with `GET /`; we run its check unchanged and only turn
    the "unsupported distribution" verdict into success. Servers that are not Elasticsearch at all
    (wrong tagline, missing `X-Elastic-Product` on 7.14+) are still rejected.
    """

    _verified_elasticsearch: bool | int | None

    def _do_verify_elasticsearch(self, headers: Any, timeout: Any) -> None:
        super()._do_verify_elasticsearch(headers, timeout)  # type: ignore[misc]
        if self._verified_elasticsearch == _ProductChecker.UNSUPPORTED_DISTRIBUTION:
            self._verified_elasticsearch = True


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
    max_retries: int = Field(default=3, description="Retries on connection errors and timeouts.")
    index_replicas: int = Field(
        default=0, description="Replicas per search index (0 on the one-node local stack, 1+ on a cluster)."
    )
    bulk_chunk_size: int = Field(default=500, description="Documents per bulk request when indexing.")
    retry_attempts: int = Field(
        default=5, description="Attempts (with exponential back-off) before indexing gives up on the cluster."
    )
    accept_oss_distribution: bool = Field(
        default=True,
        description="Accept Elasticsearch 7.0-7.13 OSS builds (the local stack's 7.10.2 node), which "
        "the 7.14+ Python client otherwise refuses as an unsupported distribution.",
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

    def client(self) -> Elasticsearch:
        """A 7.x `Elasticsearch` client for this cluster (cheap to create; reuse it within a run)."""
        if self.api_key and (self.username or self.password):
            raise ValueError("ElasticsearchResource: set either username/password or api_key, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("ElasticsearchResource: username and password must be set together")
        kwargs: dict[str, Any] = {
            "verify_certs": self.verify_certs,
            "timeout": self.request_timeout,
            "max_retries": self.max_retries,
            "retry_on_timeout": True,
        }
        if self.ca_certs:
            kwargs["ca_certs"] = self.ca_certs
        if self.username is not None and self.password is not None:
            kwargs["http_auth"] = (self.username, self.password)
        if self.api_key:
            kwargs["api_key"] = self.api_key
        if self.accept_oss_distribution:
            kwargs["transport_class"] = _OssTolerantTransport
        return Elasticsearch([self._checked_url()], **kwargs)

    def retry_settings(self) -> ElasticsearchRetrySettings:
        """Back-off and chunking for the search layer's indexing (its bulk writes and cluster calls)."""
        return ElasticsearchRetrySettings(attempts=self.retry_attempts, chunk_size=self.bulk_chunk_size)

    def server_version(self) -> str:
        """The cluster's version number (e.g. "7.10.2"), to check client/server compatibility."""
        return str(self.client().info()["version"]["number"])
