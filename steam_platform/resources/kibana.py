"""Kibana access for provisioning the platform's dashboards (saved objects) from `deploy/kibana/`.

Dashboards are code: data views, visualisations and dashboards live as ndjson in the repository and
are pushed through Kibana's saved-objects import API (`POST /api/saved_objects/_import?overwrite=true`,
multipart, `kbn-xsrf` header). Kibana is optional: locally there is none (no Docker), so `url` may be
unset and callers then skip provisioning and say so. Credentials are fields (filled via `dg.EnvVar`),
never part of the URL, and never appear in messages.

Which Kibana imports which file follows Kibana's documented rule: saved objects import into the
same version, a newer minor of the same major, or the next major, never into an older one. A file
may therefore come in sets per Kibana version: `<dir>/<name>.ndjson` (the oldest set) and
`<dir>/<version>/<name>.ndjson` for Kibana `<version>` and later. The resource asks the server its
version (`GET /api/status` -> `version.number`), sends the newest set that Kibana accepts, and
refuses to send a file whose stamps that Kibana would refuse.

`missing_saved_objects` tells which of those objects Kibana no longer holds (Kibana keeps them in
Elasticsearch, so a wiped cluster takes them along); `search_restore_sensor` provisions them again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import dagster as dg
import requests
from pydantic import ConfigDict, Field
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

IMPORT_PATH = "/api/saved_objects/_import"
BULK_GET_PATH = "/api/saved_objects/_bulk_get"
STATUS_PATH = "/api/status"

Version = tuple[int, int, int]
_T = TypeVar("_T")


def parse_version(text: str) -> Version:
    """`major.minor.patch` of a Kibana version string ("9.1.0", "8.19.3-SNAPSHOT", "8.8")."""
    parts = text.split("-", 1)[0].split(".")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a Kibana version: {text!r}")
    numbers = [int(p) for p in parts] + [0] * (3 - len(parts))
    return numbers[0], numbers[1], numbers[2]


def exported_from(obj: dict[str, Any]) -> Version | None:
    """The Kibana version a saved object claims to come from: `coreMigrationVersion` (stamped by
    Kibana 7.12 and later), else the newest `migrationVersion` entry (how 7.11 and older stamp);
    None when the object carries no stamp at all."""
    if obj.get("coreMigrationVersion"):
        return parse_version(str(obj["coreMigrationVersion"]))
    versions = [parse_version(str(v)) for v in (obj.get("migrationVersion") or {}).values()]
    return max(versions) if versions else None


def imports_into(exported: Version, kibana: Version) -> bool:
    """Kibana's documented rule: the same version, a newer minor of the same major, or the next
    major; never an older Kibana, never two majors on (7.x -> 9.x is refused)."""
    return exported <= kibana and kibana[0] <= exported[0] + 1


def saved_object_set(path: Path, kibana: Version) -> Path:
    """The file of `path`'s name to send to Kibana `kibana`: from the sibling folder named by the
    newest version not newer than `kibana` (e.g. `8.8/` for 9.1.0), else `path` itself."""
    candidates = []
    for folder in path.parent.iterdir():
        try:
            since = parse_version(folder.name)
        except ValueError:
            continue
        if (folder / path.name).is_file() and since <= kibana:
            candidates.append((since, folder / path.name))
    return max(candidates)[1] if candidates else path


def refused_objects(lines: Iterable[str], kibana: Version) -> list[str]:
    """`type/id (why)` of each object in ndjson `lines` that Kibana `kibana` refuses by its stamps."""
    refused = []
    for line in lines:
        obj = json.loads(line)
        exported = exported_from(obj)
        if exported is None:
            refused.append(f"{obj.get('type')}/{obj.get('id')} (no migration stamp)")
        elif not imports_into(exported, kibana):
            refused.append(f"{obj.get('type')}/{obj.get('id')} (stamped {'.'.join(map(str, exported))})")
    return refused


class KibanaImportError(RuntimeError):
    """Kibana refused (part of) a saved-objects import; the message lists the objects and reasons."""


@dataclass(frozen=True)
class ImportResult:
    """What Kibana reported for one ndjson file."""

    file: str
    success_count: int
    kibana_version: str


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
    version: str | None = Field(
        default=None,
        description="Kibana's version when GET /api/status does not report it (9.5+ hides it from "
        "users without the cluster:monitor privilege); the server's answer wins when it has one.",
    )

    # A wrongly typed value in a validation error would otherwise quote the input (e.g. a secret).
    model_config = ConfigDict(hide_input_in_errors=True)

    @property
    def configured(self) -> bool:
        """True when a Kibana URL is set."""
        return bool(self.url)

    def _base_url(self) -> str:
        if not self.url:
            raise ValueError("KibanaResource.url is not set")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("KibanaResource.url must be an http(s) URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("KibanaResource.url must not contain credentials; use username/password")
        return self.url.rstrip("/")

    def _space_url(self, path: str) -> str:
        space = f"/s/{self.space}" if self.space else ""
        return f"{self._base_url()}{space}{path}"

    def _import_url(self) -> str:
        return self._space_url(IMPORT_PATH)

    def _auth(self) -> tuple[str, str] | None:
        return (self.username, self.password) if self.username and self.password else None

    def _retrying(self, call: Callable[[], _T]) -> _T:
        """`call` again while Kibana is unreachable or answers 5xx, up to `attempts` times."""
        retry = Retrying(
            retry=retry_if_exception_type((requests.ConnectionError, requests.Timeout, requests.HTTPError)),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(multiplier=1, max=20),
            reraise=True,
        )
        return retry(call)

    def _post(self, url: str, name: str, body: bytes) -> requests.Response:
        response = requests.post(
            url,
            params={"overwrite": "true"},
            headers={"kbn-xsrf": "true"},
            files={"file": (name, body, "application/ndjson")},
            auth=self._auth(),
            timeout=self.request_timeout,
        )
        if response.status_code >= 500:
            response.raise_for_status()  # HTTPError: retried
        return response

    def _get_status(self) -> requests.Response:
        response = requests.get(
            f"{self._base_url()}{STATUS_PATH}", auth=self._auth(), timeout=self.request_timeout
        )
        if response.status_code >= 500:
            response.raise_for_status()  # HTTPError: retried
        return response

    def server_version(self) -> str:
        """The server's version (`GET /api/status` -> `version.number`), else the configured
        `version`; raises `KibanaImportError` when neither says."""
        response = self._retrying(self._get_status)
        try:
            number = response.json().get("version", {}).get("number") if response.status_code == 200 else None
        except (ValueError, AttributeError):
            number = None
        if isinstance(number, str) and number:
            return number
        if self.version:
            return self.version
        raise KibanaImportError(
            f"Kibana did not report its version (GET {STATUS_PATH}: HTTP {response.status_code}); grant "
            "the user cluster:monitor or set KibanaResource.version, so the matching saved objects are sent"
        )

    def import_saved_objects(self, path: Path, kibana_version: str | None = None) -> ImportResult:
        """Import the set of `path` that Kibana `kibana_version` (default: the server's) accepts,
        with overwrite; raises `KibanaImportError` listing refused objects, and before sending when
        the stamps say that Kibana would refuse them."""
        url = self._import_url()
        number = kibana_version or self.server_version()
        kibana = parse_version(number)
        chosen = saved_object_set(path, kibana)
        body = chosen.read_bytes()
        label = path.name if chosen == path else f"{chosen.parent.name}/{chosen.name}"
        refused = refused_objects(body.decode("utf-8").splitlines(), kibana)
        if refused:
            raise KibanaImportError(
                f"Kibana {number} does not import {label} (it takes objects exported from the same "
                f"version, an older minor of its major or the previous major): {'; '.join(refused)}"
            )
        response = self._retrying(lambda: self._post(url, chosen.name, body))
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
            raise KibanaImportError(f"Kibana refused {label} (HTTP {response.status_code}): {details}")
        count = int(answer.get("successCount", 0))
        return ImportResult(file=label, success_count=count, kibana_version=number)

    def missing_saved_objects(self, paths: Iterable[Path], kibana_version: str | None = None) -> list[str]:
        """`type/id` of each object in the sets of `paths` (those Kibana `kibana_version`, default
        the server's, would be sent) that Kibana does not hold: what a provisioning would bring back.

        One `POST /api/saved_objects/_bulk_get` (Kibana 7.10 to 9.x; deprecated since 8.7 in
        favour of per-type APIs, none of which covers every type at once, and still served by 9.x):
        an object Kibana lacks comes back with an `error` (404) in its place. Unreachable or 5xx:
        retried like the import, then `requests` raises; any other refusal raises `KibanaImportError`.
        """
        kibana = parse_version(kibana_version or self.server_version())
        wanted = []
        for path in paths:
            for line in saved_object_set(path, kibana).read_text(encoding="utf-8").splitlines():
                if line.strip():
                    obj = json.loads(line)
                    wanted.append({"type": str(obj["type"]), "id": str(obj["id"])})
        if not wanted:
            return []
        response = self._retrying(lambda: self._bulk_get(wanted))
        try:
            found = response.json().get("saved_objects") if response.status_code == 200 else None
        except (ValueError, AttributeError):
            found = None
        if not isinstance(found, list) or len(found) != len(wanted):
            raise KibanaImportError(
                f"Kibana did not answer which saved objects it holds (POST {BULK_GET_PATH}: "
                f"HTTP {response.status_code})"
            )
        return [
            f"{want['type']}/{want['id']}"
            for want, got in zip(wanted, found, strict=True)
            if not isinstance(got, dict) or got.get("error")
        ]

    def _bulk_get(self, objects: list[dict[str, str]]) -> requests.Response:
        response = requests.post(
            self._space_url(BULK_GET_PATH),
            json=[{**o, "fields": ["title"]} for o in objects],
            headers={"kbn-xsrf": "true"},
            auth=self._auth(),
            timeout=self.request_timeout,
        )
        if response.status_code >= 500:
            response.raise_for_status()  # HTTPError: retried
        return response
