"""Kibana access for provisioning the platform's dashboards (saved objects) from `deploy/kibana/`.

Dashboards are code: data views, visualisations and dashboards live as ndjson in the repository and
are pushed through Kibana's saved-objects import API (`POST /api/saved_objects/_import?overwrite=true`,
multipart, `kbn-xsrf` header). Kibana is optional: locally there is none (no Docker), so `url` may be
unset and callers then skip provisioning and say so. Credentials are fields (filled via `dg.EnvVar`),
never part of the URL, and never appear in messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import requests
from pydantic import ConfigDict, Field
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

IMPORT_PATH = "/api/saved_objects/_import"


class KibanaImportError(RuntimeError):
    """Kibana refused (part of) a saved-objects import; the message lists the objects and reasons."""


@dataclass(frozen=True)
class ImportResult:
    """What Kibana reported for one ndjson file."""

    file: str
    success_count: int


class KibanaResource(dg.ConfigurableResource):
    """Where Kibana is (optional) and how to authenticate, for importing saved objects."""

    url: str | None = Field(
        default=None, description="Kibana base URL, e.g. http://kibana:5601; unset = none."
    )
    username: str | None = Field(default=None, description="Basic-auth user; fill with EnvVar.")
    password: str | None = Field(default=None, repr=False, description="Secret; fill with EnvVar.")
    space: str | None = Field(default=None, description="Kibana space id (default space when unset).")
    request_timeout: float = Field(default=60.0, description="Seconds before an import request times out.")
    attempts: int = Field(default=4, description="Attempts when Kibana is unreachable or answers 5xx.")

    # A wrongly typed value in a validation error would otherwise quote the input (e.g. a secret).
    model_config = ConfigDict(hide_input_in_errors=True)

    @property
    def configured(self) -> bool:
        """True when a Kibana URL is set."""
        return bool(self.url)

    def _import_url(self) -> str:
        if not self.url:
            raise ValueError("KibanaResource.url is not set")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("KibanaResource.url must be an http(s) URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("KibanaResource.url must not contain credentials; use username/password")
        space = f"/s/{self.space}" if self.space else ""
        return f"{self.url.rstrip('/')}{space}{IMPORT_PATH}"

    def _post(self, url: str, name: str, body: bytes) -> requests.Response:
        auth = (self.username, self.password) if self.username and self.password else None
        response = requests.post(
            url,
            params={"overwrite": "true"},
            headers={"kbn-xsrf": "true"},
            files={"file": (name, body, "application/ndjson")},
            auth=auth,
            timeout=self.request_timeout,
        )
        if response.status_code >= 500:
            response.raise_for_status()  # HTTPError: retried below
        return response

    def import_saved_objects(self, path: Path) -> ImportResult:
        """Import one ndjson file with overwrite; raises `KibanaImportError` listing refused objects."""
        url = self._import_url()
        body = path.read_bytes()
        retry = Retrying(
            retry=retry_if_exception_type((requests.ConnectionError, requests.Timeout, requests.HTTPError)),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(multiplier=1, max=20),
            reraise=True,
        )
        response = retry(self._post, url, path.name, body)
        try:
            answer: dict[str, Any] = response.json()
        except ValueError:
            answer = {}
        if response.status_code != 200 or not answer.get("success", False):
            errors = answer.get("errors") or [answer.get("message") or response.text[:500]]
            details = "; ".join(
                f"{e.get('type')}/{e.get('id')}: {e.get('error')}" if isinstance(e, dict) else str(e)
                for e in errors
            )
            raise KibanaImportError(f"Kibana refused {path.name} (HTTP {response.status_code}): {details}")
        return ImportResult(file=path.name, success_count=int(answer.get("successCount", 0)))
