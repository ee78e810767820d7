"""Elasticsearch's published REST API specifications, as a checker for the requests the platform sends.

Two formats, both Apache-2.0 and fetched at install time (never committed):
- 7.10.2: `org.elasticsearch:rest-api-spec:7.10.2` from Maven Central (`rest-api-spec/api/*.json`:
  per endpoint its URL templates with methods, its query parameters (plus `_common.json`'s) and
  whether it takes a body). It has no schema of bodies, so for 7.10 a body is checked only for being
  allowed (and NDJSON only where the spec says `serialize: bulk`).
- 8.19.1 and 9.5.0: Elastic's `elasticsearch-specification` (`schema.json` inside the npm package
  `@elastic/request-converter`): per endpoint its URLs and a request type with path parts, query
  parameters and body; types are followed so body properties are checked at every level the
  specification closes (objects without `AdditionalProperties`; `_bulk` action lines against
  `OperationContainer`).

`RestSpec.problems(request)` lists what the specification does not declare for a request: no URL
template with that method, an undeclared query parameter, a body where none is taken, a body
property the request type lacks. An empty list means the request is valid as far as the spec says.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steam_devstack import maven
from steam_devstack.paths import cache_dir
from steam_platform.resources.es_client import EsRequest

#: The versions checked, and where `make install` puts their specifications.
SPEC_710 = "7.10.2"
SCHEMA_VERSIONS = ("8.19.1", "9.5.0")


def spec_710_jar() -> Path:
    return maven.jars_dir("es-rest-api-spec") / f"rest-api-spec-{SPEC_710}.jar"


def schema_json(version: str) -> Path:
    return cache_dir() / "es-spec" / version / "schema.json"


@dataclass(frozen=True)
class Url:
    methods: frozenset[str]
    path: str

    def matches(self, method: str, path: str) -> bool:
        return method in self.methods and _template_regex(self.path).fullmatch(path) is not None

    @property
    def literal_segments(self) -> int:
        return sum(1 for seg in self.path.split("/") if seg and not seg.startswith("{"))


def _template_regex(template: str) -> re.Pattern[str]:
    # A path part is one segment; index, alias and template names never start with "_", so a part
    # cannot swallow an API keyword such as `_search` or `_alias`.
    pattern = re.sub(r"\{[^}]+\}", "[^/_][^/]*", template)
    return re.compile(pattern)


@dataclass
class Endpoint:
    """One API of a specification: its URLs, query parameters and what its body may hold."""

    name: str
    urls: list[Url]
    query: set[str]
    body: str  # "none", "any" (7.10: allowed, unspecified), "ndjson" (7.10 bulk), "schema"
    request_type: tuple[str, str] | None = None

    def best_url(self, method: str, path: str) -> Url | None:
        found = [u for u in self.urls if u.matches(method, path)]
        return max(found, key=lambda u: u.literal_segments) if found else None


@dataclass
class RestSpec:
    """A version's REST API specification: its endpoints, and (8.x/9.x) its type definitions."""

    version: str
    endpoints: list[Endpoint]
    types: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    common_query: set[str] = field(default_factory=set)

    def endpoint_for(self, method: str, path: str) -> Endpoint | None:
        """The endpoint whose URL template matches most specifically (most literal segments)."""
        best: tuple[int, Endpoint] | None = None
        for endpoint in self.endpoints:
            url = endpoint.best_url(method, path)
            if url is not None and (best is None or url.literal_segments > best[0]):
                best = (url.literal_segments, endpoint)
        return best[1] if best else None

    def problems(self, request: EsRequest) -> list[str]:
        """What this specification does not declare for `request` (empty: all declared)."""
        where = f"ES {self.version} {request.method} {request.path}"
        endpoint = self.endpoint_for(request.method, request.path)
        if endpoint is None:
            return [f"{where}: no endpoint has this URL with this method"]
        found = [
            f"{where} ({endpoint.name}): query parameter {p!r} is not declared"
            for p in sorted(request.params)
            if p not in endpoint.query and p not in self.common_query
        ]
        body = request.body
        if body is None:
            return found
        if endpoint.body == "none":
            return [*found, f"{where} ({endpoint.name}): takes no body"]
        if isinstance(body, list) and endpoint.body == "any":
            return [*found, f"{where} ({endpoint.name}): takes JSON, not NDJSON"]
        if endpoint.body == "schema" and endpoint.request_type is not None:
            request_type = self.types[endpoint.request_type]
            found += [
                f"{where} ({endpoint.name}): {p}" for p in self._body_problems(endpoint, request_type, body)
            ]
        return found

    # ---- 8.x/9.x body schema --------------------------------------------------------------------
    def _body_problems(self, endpoint: Endpoint, request_type: dict[str, Any], body: Any) -> list[str]:
        spec = request_type["body"]
        if endpoint.name == "bulk":
            return self._bulk_problems(body)
        if spec["kind"] == "properties":
            if not isinstance(body, dict):
                return ["body is not an object"]
            return self._object_problems(spec["properties"], False, body, "body", 0)
        if spec["kind"] == "value":
            return self._value_problems(spec["value"], body, "body", 0)
        return []

    def _bulk_problems(self, lines: Any) -> list[str]:
        if not isinstance(lines, list):
            return ["_bulk body is not NDJSON lines"]
        container = {
            "kind": "instance_of",
            "type": {"namespace": "_global.bulk", "name": "OperationContainer"},
        }
        found: list[str] = []
        i = 0
        while i < len(lines):
            action = lines[i]
            found += self._value_problems(container, action, f"line {i + 1}", 0)
            op = next(iter(action)) if isinstance(action, dict) and len(action) == 1 else None
            if op is None:
                found.append(f"line {i + 1}: an action line has exactly one operation")
            i += 2 if op in ("index", "create", "update") else 1  # the document (or update) line
        return found

    def _properties(self, type_def: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        """Every property of an interface (inherited ones too) and whether it takes any others."""
        props = list(type_def.get("properties", []))
        open_ = "AdditionalProperties" in type_def.get("attachedBehaviors", []) or any(
            b.get("type", {}).get("name") == "AdditionalProperties" for b in type_def.get("behaviors", [])
        )
        parent = type_def.get("inherits")
        if parent:
            parent_def = self.types.get((parent["type"]["namespace"], parent["type"]["name"]))
            if parent_def is not None:
                more, parent_open = self._properties(parent_def)
                props += more
                open_ = open_ or parent_open
        return props, open_

    def _object_problems(
        self, props: list[dict[str, Any]], open_: bool, value: dict[str, Any], where: str, depth: int
    ) -> list[str]:
        by_name: dict[str, dict[str, Any]] = {}
        for prop in props:
            for name in (prop["name"], *prop.get("aliases", [])):
                by_name[name] = prop
        found: list[str] = []
        for key, item in value.items():
            prop = by_name.get(key)
            if prop is None:
                if not open_:
                    found.append(f"{where}.{key} is not declared")
                continue
            found += self._value_problems(prop["type"], item, f"{where}.{key}", depth + 1)
        return found

    def _value_problems(self, ref: dict[str, Any], value: Any, where: str, depth: int) -> list[str]:
        if value is None or depth > 12:
            return []  # null resets a setting; deeper than any body we send
        kind = ref["kind"]
        if kind == "array_of":
            items = value if isinstance(value, list) else [value]  # a single value is accepted too
            return [p for item in items for p in self._value_problems(ref["value"], item, where, depth + 1)]
        if kind == "dictionary_of":
            if not isinstance(value, dict):
                return []
            return [
                p
                for k, v in value.items()
                for p in self._value_problems(ref["value"], v, f"{where}.{k}", depth + 1)
            ]
        if kind == "union_of":
            if not isinstance(value, dict):
                return []  # scalars: names are what we check, not value types
            attempts = [self._value_problems(item, value, where, depth) for item in ref["items"]]
            if any(not a for a in attempts):
                return []
            return [f"{where} matches no variant: {min(attempts, key=len)[0]}"]
        if kind != "instance_of":
            return []  # user_defined_value, literal_value
        key = (ref["type"]["namespace"], ref["type"]["name"])
        type_def = self.types.get(key)
        if type_def is None or not isinstance(value, dict):
            return []  # builtins (string, number, ...) and generic parameters (documents)
        if type_def["kind"] == "type_alias":
            return self._value_problems(type_def["type"], value, where, depth + 1)
        if type_def["kind"] != "interface":
            return []
        props, open_ = self._properties(type_def)
        return self._object_problems(props, open_, value, where, depth)


def load_710(jar: Path) -> RestSpec:
    """Elasticsearch 7.10's rest-api-spec jar."""
    endpoints: list[Endpoint] = []
    common: set[str] = set()
    with zipfile.ZipFile(jar) as archive:
        for name in archive.namelist():
            if not (name.startswith("rest-api-spec/api/") and name.endswith(".json")):
                continue
            doc = json.loads(archive.read(name))
            if name.endswith("/_common.json"):
                common = set(doc["params"])
                continue
            ((api, spec),) = doc.items()
            urls = [Url(frozenset(p["methods"]), p["path"]) for p in spec["url"]["paths"]]
            body = spec.get("body")
            kind = "none" if body is None else ("ndjson" if body.get("serialize") == "bulk" else "any")
            endpoints.append(Endpoint(api, urls, set(spec.get("params", {})), kind))
    return RestSpec(SPEC_710, endpoints, common_query=common)


def load_schema(path: Path, version: str) -> RestSpec:
    """Elastic's elasticsearch-specification `schema.json` (8.x, 9.x)."""
    schema = json.loads(path.read_text())
    types = {(t["name"]["namespace"], t["name"]["name"]): t for t in schema["types"]}
    endpoints: list[Endpoint] = []
    for ep in schema["endpoints"]:
        request = ep.get("request")
        if request is None:
            continue
        key = (request["namespace"], request["name"])
        request_type = types[key]
        query = set()
        for param in request_type.get("query", []):
            query |= {param["name"], *param.get("aliases", [])}
        body = "none" if request_type["body"]["kind"] == "no_body" else "schema"
        urls = [Url(frozenset(u["methods"]), u["path"]) for u in ep["urls"]]
        endpoints.append(Endpoint(ep["name"], urls, query, body, key))
    # CommonQueryParameters, attached to every request.
    common = {
        p["name"] for p in types.get(("_spec_utils", "CommonQueryParameters"), {}).get("properties", [])
    }
    return RestSpec(version, endpoints, types, common)


def load_all() -> list[RestSpec]:
    """The three specifications, or an error saying what `make install` did not fetch."""
    missing = [str(p) for p in (spec_710_jar(), *(schema_json(v) for v in SCHEMA_VERSIONS)) if not p.exists()]
    if missing:
        raise FileNotFoundError(
            f"Elasticsearch specifications missing (run `make install`): {', '.join(missing)}"
        )
    return [load_710(spec_710_jar()), *(load_schema(schema_json(v), v) for v in SCHEMA_VERSIONS)]


def check_all(specs: Iterable[RestSpec], requests: Iterable[EsRequest]) -> dict[str, list[str]]:
    """Problems per specification version over every request (empty lists: all declared)."""
    requests = list(requests)
    return {spec.version: [p for r in requests for p in spec.problems(r)] for spec in specs}


def endpoint_names(spec: RestSpec, requests: Iterable[EsRequest]) -> Mapping[str, str]:
    """Which endpoint each distinct `METHOD path-shape` resolves to in `spec` (for reports)."""
    names: dict[str, str] = {}
    for r in requests:
        endpoint = spec.endpoint_for(r.method, r.path)
        names[f"{r.method} {r.path}"] = endpoint.name if endpoint else "?"
    return names
