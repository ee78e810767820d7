"""Every field the Kibana saved objects use exists in the live index mapping with a type that fits.

The aliases are built by the indexer from sample mart partitions (the real mapping, the real node);
then each visualisation's aggregations, each control, each saved search's columns and sort, each
data view's time field and field list are checked against `GET <alias>/_mapping`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pytest
from search_support import ROWS_FOR, write_partition

from steam_platform.assets.search import indexer, reader
from steam_platform.assets.search.assets import KIBANA_DIR
from steam_platform.assets.search.kibana_objects import index_pattern_id
from steam_platform.assets.search.templates import INDEX_SPECS
from steam_platform.resources.elasticsearch import ElasticsearchResource

pytestmark = pytest.mark.integration

DAY = "2026-10-07"
NUMERIC = {"long", "integer", "double", "float", "short", "scaled_float"}
#: ES types each kind of use accepts.
FITS: dict[str, set[str]] = {
    "terms": NUMERIC | {"keyword", "date", "boolean"},
    "date_histogram": {"date"},
    "avg": NUMERIC,
    "sum": NUMERIC,
    "min": NUMERIC | {"date"},
    "max": NUMERIC | {"date"},
    "cardinality": NUMERIC | {"keyword", "date", "boolean"},
    "sort": NUMERIC | {"keyword", "date", "boolean"},
    "column": NUMERIC | {"keyword", "date", "boolean", "text"},
    "time_field": {"date"},
}


def _flatten(properties: dict[str, Any], prefix: str = "") -> dict[str, str]:
    types: dict[str, str] = {}
    for name, mapping in properties.items():
        types[prefix + name] = mapping["type"]
        for sub, sub_mapping in mapping.get("fields", {}).items():
            types[f"{prefix}{name}.{sub}"] = sub_mapping["type"]
    return types


@pytest.fixture(scope="module")
def live_types(
    stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, dict[str, str]]]:
    """Data-view id -> {field: ES type} read back from the live aliases after indexing sample marts."""
    es = ElasticsearchResource(url=stack_env["ELASTICSEARCH_URL"]).client()
    lake = tmp_path_factory.mktemp("lake")
    fs = pafs.LocalFileSystem()
    result: dict[str, dict[str, str]] = {}
    for spec in INDEX_SPECS:
        es.delete_index(f"{spec.alias}-v*")
        write_partition(lake, spec.table, DAY, ROWS_FOR[spec.table.name](DAY))
        report = indexer.sync(
            es,
            spec,
            DAY,
            load=lambda d, s=spec: reader.to_documents(
                reader.read_partition(fs, str(lake), s.table, d), s.fields
            ),
            list_partitions=lambda s=spec: reader.list_partitions(fs, str(lake), s.table),
        )
        assert report.docs_indexed == len(ROWS_FOR[spec.table.name](DAY)) > 0
        (mapping,) = es.get_mapping(spec.alias).values()
        result[index_pattern_id(spec)] = _flatten(mapping["mappings"]["properties"])
    yield result
    for spec in INDEX_SPECS:
        es.delete_index(f"{spec.alias}-v*")


def _objects() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, json.loads(line))
        for path in sorted(KIBANA_DIR.rglob("*.ndjson"))  # every set: 7.10 and 8.8+
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


def _uses(obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(data-view id, field, use) for every field the object uses."""
    attrs = obj["attributes"]
    refs = {r["name"]: r["id"] for r in obj["references"]}
    uses: list[tuple[str, str, str]] = []
    if obj["type"] == "index-pattern":
        uses.append((obj["id"], attrs["timeFieldName"], "time_field"))
    if obj["type"] == "search":
        view = refs["kibanaSavedObjectMeta.searchSourceJSON.index"]
        uses += [(view, column, "column") for column in attrs["columns"]]
        uses += [(view, field, "sort") for field, _ in attrs["sort"]]
    if obj["type"] == "visualization":
        vis = json.loads(attrs["visState"])
        for agg in vis["aggs"]:
            if "field" in agg["params"]:
                uses.append(
                    (
                        refs["kibanaSavedObjectMeta.searchSourceJSON.index"],
                        agg["params"]["field"],
                        agg["type"],
                    )
                )
            else:
                assert agg["type"] == "count", f"{obj['id']}: {agg['type']} without a field"
        for control in vis["params"].get("controls", []):
            uses.append((refs[control["indexPatternRefName"]], control["fieldName"], "terms"))
    return uses


def test_every_field_used_exists_with_a_fitting_type(live_types: dict[str, dict[str, str]]) -> None:
    checked = 0
    problems = []
    for file, obj in _objects():
        for view, field, use in _uses(obj):
            es_type = live_types[view].get(field)
            if es_type is None:
                problems.append(f"{file} {obj['id']}: {field} is not in the {view} mapping")
            elif es_type not in FITS[use]:
                problems.append(f"{file} {obj['id']}: {field} is {es_type}, unfit for {use}")
            checked += 1
    assert not problems, "\n".join(problems)
    assert checked >= 40  # the panels really were parsed


def test_data_view_field_lists_match_the_live_mapping(live_types: dict[str, dict[str, str]]) -> None:
    for _, obj in _objects():
        if obj["type"] != "index-pattern":
            continue
        listed = {
            f["name"]: f for f in json.loads(obj["attributes"]["fields"]) if not f["name"].startswith("_")
        }
        assert set(listed) == set(live_types[obj["id"]]), obj["id"]
        for name, field in listed.items():
            assert field["esTypes"] == [live_types[obj["id"]][name]], (obj["id"], name)
            assert field["aggregatable"] == (live_types[obj["id"]][name] != "text")


def test_kibana_reads_the_aliases(stack_env: dict[str, str], live_types: dict[str, dict[str, str]]) -> None:
    """The data views' titles are aliases that resolve to exactly one live index each."""
    es = ElasticsearchResource(url=stack_env["ELASTICSEARCH_URL"]).client()
    titles = {obj["attributes"]["title"] for _, obj in _objects() if obj["type"] == "index-pattern"}
    for title in titles:
        assert len(es.get_alias(name=title)) == 1
        assert es.count(title) > 0
    assert Path(KIBANA_DIR).is_dir()
