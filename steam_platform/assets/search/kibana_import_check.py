"""Would Kibana N import the platform's saved objects? Kibana's documented import rules, per target.

No Kibana runs here (none is installable from the registries this machine reaches), so the
dashboards are checked against what Kibana documents and what its saved-object migrator enforces:

- shape: every object is a saved-object document with a migration stamp (a JSON schema below).
  Kibana's migrator takes an object without `typeMigrationVersion` as already current and skips
  its migrations, so an unstamped object would reach the dashboards un-migrated.
- version: "saved objects can only be imported into the same version, a newer minor on the same
  major, or the next major" (import API docs); the version an object comes from is its
  `coreMigrationVersion`, or its newest `migrationVersion` entry for 7.11 and older.
- fields: Kibana before 8.8 reads `migrationVersion` only (`typeMigrationVersion` replaced it in
  8.8), and a per-type stamp may not be newer than the Kibana that wrote it (Kibana refuses such an
  object: "belongs to a more recent version of Kibana").
- visualisation types: only types the target registers. Kibana 9.0 removed no visualisation type
  (its breaking changes list none); the legacy input control, deprecated since 8.3, is refused for
  9.x, where panels carry "will be removed in a future release" and are read-only on serverless.
- references: since 7.0 ids live in `references` only (`kibanaSavedObjectMeta.searchSourceJSON`
  names its data view with `indexRefName`, dashboard panels with `panelRefName`, controls with
  `indexPatternRefName`), and every reference resolves within the file it is imported from.
- data views: titles are the Elasticsearch aliases (or patterns of the indices) the platform writes,
  and the time field is one of the view's fields.

`python -m steam_platform.assets.search.kibana_import_check 9.1.0` checks the set the platform
sends to that Kibana and exits non-zero listing every problem.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from steam_platform.assets.search.templates import INDEX_SPECS
from steam_platform.resources.kibana import (
    Version,
    exported_from,
    imports_into,
    parse_version,
    saved_object_set,
)

Obj = dict[str, Any]

_VERSION = {"type": "string", "pattern": r"^\d+\.\d+\.\d+$"}
_NAME = {"type": "string", "minLength": 1}
_JSON_TEXT = {"type": "string", "minLength": 2}


def _attributes(required: list[str], properties: Obj) -> Obj:
    return {"properties": {"attributes": {"required": required, "properties": properties}}}


#: A saved-object document as the import API takes it, for the four types the platform ships.
OBJECT_SCHEMA: Obj = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["type", "id", "attributes", "references"],
    "properties": {
        "type": {"enum": ["index-pattern", "visualization", "search", "dashboard"]},
        "id": {"type": "string", "pattern": r"^[A-Za-z0-9_.:-]+$"},
        "attributes": {
            "type": "object",
            "required": ["title"],
            "properties": {
                "title": _NAME,
                "kibanaSavedObjectMeta": {
                    "type": "object",
                    "required": ["searchSourceJSON"],
                    "properties": {"searchSourceJSON": _JSON_TEXT},
                },
            },
        },
        "references": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "type", "id"],
                "properties": {"name": _NAME, "type": _NAME, "id": _NAME},
                "additionalProperties": False,
            },
        },
        "migrationVersion": {"type": "object", "additionalProperties": _VERSION, "minProperties": 1},
        "coreMigrationVersion": _VERSION,
        "typeMigrationVersion": _VERSION,
        # What Kibana's export adds besides; accepted, not needed.
        "updated_at": {"type": "string"},
        "created_at": {"type": "string"},
        "version": {"type": "string"},
        "managed": {"type": "boolean"},
        "originId": {"type": "string"},
        "namespaces": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
    "anyOf": [{"required": ["migrationVersion"]}, {"required": ["typeMigrationVersion"]}],
    "dependentRequired": {"typeMigrationVersion": ["coreMigrationVersion"]},
    "allOf": [
        {
            "if": {"properties": {"type": {"const": "index-pattern"}}},
            "then": _attributes(["title", "fields"], {"fields": _JSON_TEXT, "timeFieldName": _NAME}),
        },
        {
            "if": {"properties": {"type": {"const": "visualization"}}},
            "then": _attributes(["title", "visState", "kibanaSavedObjectMeta"], {"visState": _JSON_TEXT}),
        },
        {
            "if": {"properties": {"type": {"const": "search"}}},
            "then": _attributes(
                ["title", "columns", "kibanaSavedObjectMeta"],
                {"columns": {"type": "array", "items": _NAME}},
            ),
        },
        {
            "if": {"properties": {"type": {"const": "dashboard"}}},
            "then": _attributes(["title", "panelsJSON"], {"panelsJSON": _JSON_TEXT}),
        },
    ],
}
_VALIDATOR = Draft202012Validator(OBJECT_SCHEMA)
Draft202012Validator.check_schema(OBJECT_SCHEMA)

#: Aggregation-based and other visualisation types registered by Kibana 7.10 to 9.x (vis_types/*,
#: markdown, TSVB `metrics`, timelion, vega). TSVB and aggregation-based visualisations can no longer
#: be created from 9.0's dashboard menu, but existing ones keep working.
VIS_TYPES = frozenset(
    {"area", "line", "histogram", "horizontal_bar", "table", "metric", "gauge", "goal", "pie"}
    | {"tagcloud", "heatmap", "markdown", "metrics", "timelion", "vega", "input_control_vis"}
)
#: Deprecated types a target from that version on must not use, and why.
DEPRECATED_VIS_TYPES: dict[str, tuple[Version, str]] = {
    "input_control_vis": (
        (9, 0, 0),
        "legacy input controls: deprecated in 8.3 (kibana#132562), hidden from the editor (kibana#156455); "
        "9.x marks them 'will be removed in a future release' (read-only on serverless); use dashboard "
        "controls",
    ),
}
#: `typeMigrationVersion` replaced `migrationVersion` in Kibana 8.8.0.
TYPE_MIGRATION_VERSION_SINCE: Version = (8, 8, 0)


def platform_index_names() -> dict[str, str]:
    """Alias -> pattern of its concrete indices, for every index the platform writes."""
    return {spec.alias: f"{spec.index_prefix}*" for spec in INDEX_SPECS}


def _text(version: Version) -> str:
    return ".".join(map(str, version))


def _version_problems(obj: Obj, kibana: Version) -> list[str]:
    exported = exported_from(obj)
    if exported is None:
        return []  # the schema already says so
    problems = []
    if not imports_into(exported, kibana):
        problems.append(
            f"[version] exported from {_text(exported)}: Kibana {_text(kibana)} imports objects from the "
            "same version, an older minor of its major or the previous major only"
        )
    type_version = obj.get("typeMigrationVersion") or (obj.get("migrationVersion") or {}).get(obj["type"])
    if obj.get("migrationVersion") and set(obj["migrationVersion"]) != {obj["type"]}:
        problems.append(f"[fields] migrationVersion must stamp the object's own type {obj['type']!r} only")
    if kibana < TYPE_MIGRATION_VERSION_SINCE and not obj.get("migrationVersion"):
        problems.append(
            f"[fields] Kibana {_text(kibana)} reads migrationVersion only (typeMigrationVersion is 8.8+): "
            "it would take the object as current and skip its migrations"
        )
    if type_version and parse_version(type_version) > exported:
        problems.append(
            f"[fields] {obj['type']} stamp {type_version} is newer than the Kibana it claims to come from "
            f"({_text(exported)}): Kibana refuses it as belonging to a more recent version"
        )
    return problems


def _vis_type_problems(vis_type: str, kibana: Version) -> list[str]:
    if vis_type not in VIS_TYPES:
        return [f"[vis-type] {vis_type!r} is not a visualisation type Kibana {_text(kibana)} registers"]
    deprecated = DEPRECATED_VIS_TYPES.get(vis_type)
    if deprecated and kibana >= deprecated[0]:
        return [f"[deprecated] {vis_type!r} for Kibana {_text(kibana)}: {deprecated[1]}"]
    return []


def _reference_problems(obj: Obj, in_file: set[tuple[str, str]]) -> list[str]:
    """References resolve within the file; JSON-in-string attributes name references, never ids."""
    problems = []
    names = [ref["name"] for ref in obj["references"]]
    if len(names) != len(set(names)):
        problems.append("[references] duplicate reference names")
    for ref in obj["references"]:
        if (ref["type"], ref["id"]) not in in_file:
            problems.append(f"[references] {ref['type']}/{ref['id']} ({ref['name']}) is not in the file")
    attrs = obj["attributes"]
    meta = attrs.get("kibanaSavedObjectMeta")
    if meta:
        source = json.loads(meta["searchSourceJSON"])
        if "index" in source:
            problems.append("[references] searchSourceJSON holds a raw index id; use indexRefName")
        if "indexRefName" in source and source["indexRefName"] not in names:
            problems.append(f"[references] indexRefName {source['indexRefName']!r} names no reference")
        for entry in source.get("filter", []):
            if "index" in entry.get("meta", {}):
                problems.append("[references] a filter holds a raw index id; use meta.indexRefName")
    if obj["type"] == "dashboard":
        panels = json.loads(attrs["panelsJSON"])
        indexes = [panel.get("panelIndex") for panel in panels]
        if len(indexes) != len(set(indexes)):
            problems.append("[references] duplicate panelIndex in panelsJSON")
        for panel in panels:
            if "id" in panel or "type" in panel:
                problems.append(f"[references] panel {panel.get('panelIndex')} holds an id; use panelRefName")
            if panel.get("panelRefName") not in names:
                problems.append(f"[references] panel {panel.get('panelIndex')} names no reference")
    if obj["type"] == "visualization":
        for control in json.loads(attrs["visState"]).get("params", {}).get("controls", []):
            if control.get("indexPatternRefName") not in names:
                problems.append(f"[references] control {control.get('id')} names no data-view reference")
    return problems


def _data_view_problems(obj: Obj, index_names: dict[str, str]) -> list[str]:
    attrs = obj["attributes"]
    title = attrs["title"]
    problems = []
    matches = title in index_names or any(
        "*" in title and (fnmatch.fnmatchcase(alias, title) or fnmatch.fnmatchcase(pattern[:-1] + "0", title))
        for alias, pattern in index_names.items()
    )
    if not matches:
        problems.append(f"[data-view] title {title!r} matches none of the platform's indices or aliases")
    fields = {field["name"] for field in json.loads(attrs["fields"])}
    if attrs.get("timeFieldName") and attrs["timeFieldName"] not in fields:
        problems.append(f"[data-view] time field {attrs['timeFieldName']!r} is not among its fields")
    return problems


def check_objects(
    objects: Sequence[Obj], kibana_version: str, index_names: dict[str, str] | None = None
) -> list[str]:
    """Every reason Kibana `kibana_version` would refuse (or mis-migrate) these objects imported as
    one file; empty when none. `index_names`: alias -> index pattern (default: the platform's)."""
    kibana = parse_version(kibana_version)
    names = platform_index_names() if index_names is None else index_names
    if not all(isinstance(obj, dict) for obj in objects):
        return ["file: [schema] every line must be one JSON object"]
    in_file = {(str(obj.get("type")), str(obj.get("id"))) for obj in objects}
    problems = []
    if len(in_file) != len(objects):
        problems.append("file: [references] duplicate (type, id) in one file")
    for obj in objects:
        where = f"{obj.get('type')}/{obj.get('id')}"
        errors = sorted(_VALIDATOR.iter_errors(obj), key=lambda e: list(e.absolute_path))
        if errors:
            problems += [
                f"{where}: [schema] {'/'.join(map(str, e.absolute_path))} {e.message}" for e in errors
            ]
            continue
        found = _version_problems(obj, kibana) + _reference_problems(obj, in_file)
        if obj["type"] == "visualization":
            found += _vis_type_problems(json.loads(obj["attributes"]["visState"])["type"], kibana)
        if obj["type"] == "index-pattern":
            found += _data_view_problems(obj, names)
        problems += [f"{where}: {problem}" for problem in found]
    return problems


def read_objects(path: Path) -> list[Obj]:
    """The objects of one ndjson file (one JSON object per line)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def check_shipped(directory: Path, kibana_version: str) -> dict[str, list[str]]:
    """File -> problems, for the set of every file in `directory` that `KibanaResource` sends to
    Kibana `kibana_version`."""
    kibana = parse_version(kibana_version)
    report = {}
    for base in sorted(directory.glob("*.ndjson")):
        chosen = saved_object_set(base, kibana)
        report[str(chosen.relative_to(directory))] = check_objects(read_objects(chosen), kibana_version)
    return report


def _main(argv: Collection[str]) -> int:
    args = list(argv)
    if not 1 <= len(args) <= 2:
        print("usage: kibana_import_check KIBANA_VERSION [DIRECTORY]", file=sys.stderr)
        return 2
    directory = Path(args[1]) if len(args) == 2 else Path(__file__).resolve().parent / "kibana"
    report = check_shipped(directory, args[0])
    for file, problems in report.items():
        print(f"{file}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
        for problem in problems:
            print(f"  {problem}")
    return 1 if any(report.values()) else 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
