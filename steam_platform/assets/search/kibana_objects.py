"""Builders of Kibana saved objects (data views, visualisations, searches, dashboards), stamped
for the Kibana they are imported into.

One set of builders, two targets (`KibanaTarget`): `LOCAL` for the compose stack's Kibana 7.10
(`migrationVersion` per type, as a 7.10 export carries it) and `CURRENT` for Kibana 8.8 and later,
9.x included (`coreMigrationVersion` + `typeMigrationVersion`, the fields Kibana's docs say an
ndjson file must keep). Kibana imports an export into the same version, a newer minor of the same
major or the next major only, so 7.10 stamps are refused by 9.x; `kibana_import_check` encodes
those rules. The attributes are written in the shape of the per-type versions in `TYPE_VERSIONS`
(what Kibana 7.10 exports), so on import Kibana runs every later migration of the type itself.
JSON-in-string attributes (`visState`, `searchSourceJSON`, `panelsJSON`) are encoded here so the
panels in `dashboards.py` stay readable. Data views list exactly the fields the index mappings
define (from `templates.IndexSpec`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from steam_platform.assets.search.templates import IndexSpec

#: The Kibana release whose attribute shapes the builders write (panels record it as their version).
KIBANA_VERSION = "7.10.2"
#: Per saved-object type: Kibana 7.10.2's last migration of the type, i.e. the shape the builders write.
TYPE_VERSIONS = {"index-pattern": "7.6.0", "visualization": "7.10.0", "search": "7.9.3", "dashboard": "7.9.3"}
SEARCH_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"
_KIBANA_TYPES = {"keyword": "string", "text": "string", "long": "number", "integer": "number"}
_KIBANA_TYPES |= {"double": "number", "date": "date", "boolean": "boolean"}

Obj = dict[str, Any]


@dataclass(frozen=True)
class KibanaTarget:
    """The Kibana versions a set of saved objects is written for, and how it is stamped.

    `oldest` is the oldest Kibana that imports the set; `core_migration_version` is None for
    Kibana before 7.12 (no such field) and otherwise the version the set claims to be exported
    from. `input_controls`: whether the legacy input-control visualisation may be used (deprecated
    since 8.3, "will be removed in a future release" in 9.x), so the current set does without it.
    """

    name: str
    oldest: str
    core_migration_version: str | None
    input_controls: bool

    def stamp(self, obj_type: str) -> Obj:
        """The version fields of one object of `obj_type`."""
        version = TYPE_VERSIONS[obj_type]
        if self.core_migration_version is None:
            return {"migrationVersion": {obj_type: version}}
        return {"coreMigrationVersion": self.core_migration_version, "typeMigrationVersion": version}


#: The compose stack's Kibana 7.10 (imports into 7.10 to 8.x by Kibana's rule; never into 9.x).
LOCAL = KibanaTarget(name="7.10", oldest="7.10.0", core_migration_version=None, input_controls=True)
#: Kibana 8.8 and later, 9.x included. 8.8 is the first release that reads `typeMigrationVersion`;
#: 8.0-8.7 would take an object without `migrationVersion` as current and skip its migrations.
CURRENT = KibanaTarget(name="8.8", oldest="8.8.0", core_migration_version="8.8.0", input_controls=False)
TARGETS = (LOCAL, CURRENT)


def index_pattern_id(spec: IndexSpec) -> str:
    return f"steam-{spec.alias}"


def _field(name: str, es_type: str, parent: str | None = None) -> Obj:
    aggregatable = es_type != "text"
    field: Obj = {
        "name": name,
        "type": _KIBANA_TYPES[es_type],
        "esTypes": [es_type],
        "count": 0,
        "scripted": False,
        "searchable": True,
        "aggregatable": aggregatable,
        "readFromDocValues": aggregatable,
    }
    if parent:
        field["subType"] = {"multi": {"parent": parent}}
    return field


def index_pattern_fields(spec: IndexSpec) -> list[Obj]:
    """The data view's field list: every mapped field and sub-field, plus Elasticsearch's meta fields."""
    fields = [
        {
            "name": "_id",
            "type": "string",
            "esTypes": ["_id"],
            "count": 0,
            "scripted": False,
            "searchable": True,
            "aggregatable": True,
            "readFromDocValues": False,
        },
        {
            "name": "_index",
            "type": "string",
            "esTypes": ["_index"],
            "count": 0,
            "scripted": False,
            "searchable": True,
            "aggregatable": True,
            "readFromDocValues": False,
        },
        {
            "name": "_source",
            "type": "_source",
            "esTypes": ["_source"],
            "count": 0,
            "scripted": False,
            "searchable": False,
            "aggregatable": False,
            "readFromDocValues": False,
        },
    ]
    for name, mapping in spec.mappings()["properties"].items():
        fields.append(_field(name, mapping["type"]))
        for sub, sub_mapping in mapping.get("fields", {}).items():
            fields.append(_field(f"{name}.{sub}", sub_mapping["type"], parent=name))
    return fields


def index_pattern(spec: IndexSpec, target: KibanaTarget = LOCAL) -> Obj:
    """A data view on the alias, with its time field."""
    return {
        "type": "index-pattern",
        "id": index_pattern_id(spec),
        "attributes": {
            "title": spec.alias,
            "timeFieldName": spec.time_field,
            "fields": json.dumps(index_pattern_fields(spec), ensure_ascii=False),
        },
        "references": [],
        **target.stamp("index-pattern"),
    }


def _search_source(extra: Obj | None = None, with_index: bool = True) -> str:
    source: Obj = {"query": {"query": "", "language": "kuery"}, "filter": []}
    if with_index:
        source["indexRefName"] = SEARCH_REF
    return json.dumps(source | (extra or {}), ensure_ascii=False)


def metric(agg_id: str, agg_type: str, field: str | None = None, label: str | None = None) -> Obj:
    params: Obj = {"field": field} if field else {}
    if label:
        params["customLabel"] = label
    return {"id": agg_id, "enabled": True, "type": agg_type, "schema": "metric", "params": params}


def terms(agg_id: str, field: str, order_by: str, size: int, schema: str, order: str = "desc") -> Obj:
    params = {
        "field": field,
        "orderBy": order_by,
        "order": order,
        "size": size,
        "otherBucket": False,
        "otherBucketLabel": "Other",
        "missingBucket": False,
        "missingBucketLabel": "Missing",
    }
    return {"id": agg_id, "enabled": True, "type": "terms", "schema": schema, "params": params}


def date_histogram(agg_id: str, field: str, interval: str = "d") -> Obj:
    params = {
        "field": field,
        "useNormalizedEsInterval": True,
        "scaleMetricValues": False,
        "interval": interval,
        "drop_partials": False,
        "min_doc_count": 1,
        "extended_bounds": {},
    }
    return {"id": agg_id, "enabled": True, "type": "date_histogram", "schema": "segment", "params": params}


def xy_params(chart: str, metric_ids: list[tuple[str, str]], y_title: str) -> Obj:
    """vislib params of a line or bar chart with one value axis and one series per metric."""
    horizontal = chart == "horizontal_bar"
    series_type = "line" if chart == "line" else "histogram"
    return {
        "type": chart,
        "grid": {"categoryLines": False},
        "categoryAxes": [
            {
                "id": "CategoryAxis-1",
                "type": "category",
                "position": "left" if horizontal else "bottom",
                "show": True,
                "style": {},
                "scale": {"type": "linear"},
                "labels": {"show": True, "filter": not horizontal, "truncate": 100},
                "title": {},
            }
        ],
        "valueAxes": [
            {
                "id": "ValueAxis-1",
                "name": "LeftAxis-1",
                "type": "value",
                "position": "bottom" if horizontal else "left",
                "show": True,
                "style": {},
                "scale": {"type": "linear", "mode": "normal"},
                "labels": {"show": True, "rotate": 0, "filter": False, "truncate": 100},
                "title": {"text": y_title},
            }
        ],
        "seriesParams": [
            {
                "show": True,
                "type": series_type,
                "mode": "normal",
                "data": {"label": label, "id": agg_id},
                "valueAxis": "ValueAxis-1",
                "drawLinesBetweenPoints": True,
                "lineWidth": 2,
                "interpolate": "linear",
                "showCircles": True,
            }
            for agg_id, label in metric_ids
        ],
        "addTooltip": True,
        "addLegend": True,
        "legendPosition": "right",
        "times": [],
        "addTimeMarker": False,
        "labels": {"show": False},
        "thresholdLine": {"show": False, "value": 10, "width": 1, "style": "full", "color": "#E7664C"},
    }


TABLE_PARAMS: Obj = {
    "perPage": 20,
    "showPartialRows": False,
    "showMetricsAtAllLevels": False,
    "showTotal": False,
    "totalFunc": "sum",
    "percentageCol": "",
}


def visualization(
    vis_id: str,
    title: str,
    spec: IndexSpec,
    vis_type: str,
    params: Obj,
    aggs: list[Obj],
    target: KibanaTarget = LOCAL,
) -> Obj:
    """A visualisation of one data view."""
    vis_state = {"title": title, "type": vis_type, "params": params, "aggs": aggs}
    return {
        "type": "visualization",
        "id": vis_id,
        "attributes": {
            "title": title,
            "description": "",
            "version": 1,
            "uiStateJSON": "{}",
            "visState": json.dumps(vis_state, ensure_ascii=False),
            "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source()},
        },
        "references": [{"name": SEARCH_REF, "type": "index-pattern", "id": index_pattern_id(spec)}],
        **target.stamp("visualization"),
    }


def game_picker(vis_id: str, spec: IndexSpec, target: KibanaTarget = LOCAL) -> Obj:
    """An options-list control to pick games by name (filters the whole dashboard); a legacy
    input control, so only for targets that still allow them."""
    if not target.input_controls:
        raise ValueError(f"Kibana {target.name}+ objects do without the deprecated input controls")
    control = {
        "id": "1",
        "fieldName": "app_name",
        "label": "Game",
        "type": "list",
        "indexPatternRefName": "control_0_index_pattern",
        "options": {
            "type": "terms",
            "multiselect": True,
            "dynamicOptions": True,
            "size": 10,
            "order": "desc",
        },
        "parent": "",
    }
    params = {
        "controls": [control],
        "updateFiltersOnChange": True,
        "useTimeFilter": False,
        "pinFilters": False,
    }
    vis_state = {"title": "Pick a game", "type": "input_control_vis", "params": params, "aggs": []}
    return {
        "type": "visualization",
        "id": vis_id,
        "attributes": {
            "title": "Pick a game",
            "description": "",
            "version": 1,
            "uiStateJSON": "{}",
            "visState": json.dumps(vis_state),
            "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source(with_index=False)},
        },
        "references": [
            {"name": "control_0_index_pattern", "type": "index-pattern", "id": index_pattern_id(spec)}
        ],
        **target.stamp("visualization"),
    }


def saved_search(
    search_id: str,
    title: str,
    spec: IndexSpec,
    columns: list[str],
    sort_field: str,
    target: KibanaTarget = LOCAL,
) -> Obj:
    """A Discover search of one data view with chosen columns, newest first."""
    return {
        "type": "search",
        "id": search_id,
        "attributes": {
            "title": title,
            "description": "",
            "hits": 0,
            "columns": columns,
            "sort": [[sort_field, "desc"]],
            "version": 1,
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": _search_source({"highlightAll": True, "version": True})
            },
        },
        "references": [{"name": SEARCH_REF, "type": "index-pattern", "id": index_pattern_id(spec)}],
        **target.stamp("search"),
    }


def dashboard(
    dash_id: str,
    title: str,
    panels: list[tuple[Obj, int, int, int, int]],
    time_from: str,
    target: KibanaTarget = LOCAL,
) -> Obj:
    """A dashboard of (object, x, y, w, h) panels on a 48-column grid, restoring its time range."""
    panels_json, references = [], []
    for n, (obj, x, y, w, h) in enumerate(panels):
        panels_json.append(
            {
                "version": KIBANA_VERSION,
                "gridData": {"x": x, "y": y, "w": w, "h": h, "i": str(n + 1)},
                "panelIndex": str(n + 1),
                "embeddableConfig": {},
                "panelRefName": f"panel_{n}",
            }
        )
        references.append({"name": f"panel_{n}", "type": obj["type"], "id": obj["id"]})
    return {
        "type": "dashboard",
        "id": dash_id,
        "attributes": {
            "title": title,
            "description": "",
            "hits": 0,
            "version": 1,
            "panelsJSON": json.dumps(panels_json),
            "optionsJSON": json.dumps({"hidePanelTitles": False, "useMargins": True}),
            "timeRestore": True,
            "timeFrom": time_from,
            "timeTo": "now",
            "refreshInterval": {"pause": True, "value": 0},
            "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source(with_index=False)},
        },
        "references": references,
        **target.stamp("dashboard"),
    }
