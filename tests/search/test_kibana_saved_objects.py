"""The Kibana saved objects (package data, linked from `deploy/kibana/`): importable as they
are, generated from the specs, and provisioned through the import API by the
`kibana_saved_objects` asset (a no-op without Kibana). Both sets are covered: the local 7.10 set
(`kibana/*.ndjson`) and the Kibana 8.8+/9.x set (`kibana/8.8/*.ndjson`); which set reaches which
Kibana version is tested in `test_kibana_provisioning.py`."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
import yaml
from kibana_fake import FakeKibana

from steam_platform.assets.search.assets import KIBANA_DIR, kibana_saved_objects
from steam_platform.assets.search.dashboards import saved_object_files, write_all
from steam_platform.assets.search.templates import INDEX_SPECS
from steam_platform.resources.kibana import KibanaImportError, KibanaResource

JSON_ATTRIBUTES = ("visState", "uiStateJSON", "panelsJSON", "optionsJSON", "fields")


def _files() -> list[Path]:
    """The local set: what the asset hands to the resource."""
    files = sorted(KIBANA_DIR.glob("*.ndjson"))
    assert files, f"no ndjson in {KIBANA_DIR}"
    return files


def _all_files() -> list[Path]:
    """Every set."""
    files = sorted(KIBANA_DIR.rglob("*.ndjson"))
    assert len(files) == 2 * len(_files()), files
    return files


@pytest.mark.parametrize("path", _all_files(), ids=lambda p: str(p.relative_to(KIBANA_DIR)))
def test_each_file_is_valid_for_the_import_api(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    objects = [json.loads(line) for line in lines]  # one JSON object per line, no blank lines
    assert all(isinstance(o, dict) for o in objects)
    ids = {(o["type"], o["id"]) for o in objects}
    assert len(ids) == len(objects), "duplicate (type, id) in one file"
    for obj in objects:
        assert obj["type"] in {"index-pattern", "visualization", "search", "dashboard"}
        assert isinstance(obj["id"], str) and obj["id"]
        attrs = obj["attributes"]
        assert isinstance(attrs, dict) and attrs["title"]
        for key in JSON_ATTRIBUTES:
            if key in attrs:
                json.loads(attrs[key])  # JSON-in-string attributes must parse
        if "kibanaSavedObjectMeta" in attrs:
            source = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
            if "indexRefName" in source:
                assert source["indexRefName"] in {r["name"] for r in obj["references"]}
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in ids, f"{obj['id']} references {ref} outside {path.name}"
            assert ref["name"]
        if obj["type"] == "dashboard":
            panel_refs = {p["panelRefName"] for p in json.loads(attrs["panelsJSON"])}
            assert panel_refs == {r["name"] for r in obj["references"]}
        if obj["type"] == "visualization":
            vis = json.loads(attrs["visState"])
            for control in vis["params"].get("controls", []):
                assert control["indexPatternRefName"] in {r["name"] for r in obj["references"]}


@pytest.mark.parametrize("folder", ["", "8.8"])
def test_dashboards_cover_the_questions_and_every_alias(folder: str) -> None:
    files = sorted((KIBANA_DIR / folder).glob("*.ndjson"))
    assert len(files) == len(_files())
    titles = {
        json.loads(line)["attributes"]["title"]
        for path in files
        for line in path.read_text(encoding="utf-8").splitlines()
        if json.loads(line)["type"] == "dashboard"
    }
    assert titles == {
        "Steam: most played now",
        "Steam: player curves",
        "Steam: news timeline and impact",
    }
    patterns = {
        json.loads(line)["attributes"]["title"]
        for path in files
        for line in path.read_text(encoding="utf-8").splitlines()
        if json.loads(line)["type"] == "index-pattern"
    }
    assert patterns == {spec.alias for spec in INDEX_SPECS}


def test_committed_files_match_the_generator(tmp_path: Path) -> None:
    write_all(tmp_path)
    generated = {
        str(p.relative_to(tmp_path)): p.read_text(encoding="utf-8") for p in tmp_path.rglob("*.ndjson")
    }
    committed = {str(p.relative_to(KIBANA_DIR)): p.read_text(encoding="utf-8") for p in _all_files()}
    names = set(saved_object_files())
    assert set(generated) == names | {f"8.8/{name}" for name in names}
    assert committed == generated, "run `python -m steam_platform.assets.search.dashboards` and commit"


def test_asset_imports_every_file_through_the_import_api(fake_kibana: str) -> None:
    result = dg.materialize([kibana_saved_objects], resources={"kibana": KibanaResource(url=fake_kibana)})
    assert result.success
    files = _files()
    assert len(FakeKibana.received) == len(files)
    for request, path in zip(FakeKibana.received, files, strict=True):
        assert request["path"] == "/api/saved_objects/_import?overwrite=true"
        assert request["xsrf"] == "true"
        (part,) = request["parts"]
        assert part.get_filename() == path.name
        assert part.get_payload(decode=True) == path.read_bytes()
    meta = result.asset_materializations_for_node("kibana_saved_objects")[0].metadata
    assert meta["provisioned"].value is True
    total = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in files)
    assert meta["objects_imported"].value == total


def test_refused_objects_fail_with_their_ids(fake_kibana: str) -> None:
    FakeKibana.refuse = True
    with pytest.raises(KibanaImportError, match=r"steam-vis-x.*conflict"):
        KibanaResource(url=fake_kibana).import_saved_objects(_files()[0])


def test_without_kibana_url_the_asset_is_a_clear_no_op() -> None:
    result = dg.materialize([kibana_saved_objects], resources={"kibana": KibanaResource()})
    assert result.success
    meta = result.asset_materializations_for_node("kibana_saved_objects")[0].metadata
    assert meta["provisioned"].value is False
    assert "KIBANA_URL not set" in meta["reason"].value


def test_credentials_in_the_url_are_refused() -> None:
    with pytest.raises(ValueError, match="must not contain credentials") as excinfo:
        KibanaResource(url="http://elastic:s3cret@kibana:5601").import_saved_objects(_files()[0])
    assert "s3cret" not in str(excinfo.value)


def test_compose_starts_kibana_on_elasticsearch_and_points_dagster_at_it() -> None:
    compose = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "deploy" / "docker-compose.yml").read_text()
    )
    kibana = compose["services"]["kibana"]
    assert kibana["image"].endswith("kibana-oss:7.10.2")  # same version as Elasticsearch
    assert compose["services"]["elasticsearch"]["image"].endswith("elasticsearch-oss:7.10.2")
    assert kibana["environment"]["ELASTICSEARCH_HOSTS"] == "http://elasticsearch:9200"
    assert kibana["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    dagster_env = compose["services"]["dagster-daemon"]["environment"]
    assert dagster_env["KIBANA_URL"] == "http://kibana:5601"
    assert dagster_env["ELASTICSEARCH_URL"] == "http://elasticsearch:9200"


def test_a_change_to_any_set_of_saved_objects_changes_the_code_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kibana 8.8+ gets its own set (`kibana/8.8/`): editing only that set must re-provision too."""
    import shutil

    from steam_platform.assets.search import assets

    copy = tmp_path / "kibana"
    shutil.copytree(KIBANA_DIR, copy)
    monkeypatch.setattr(assets, "KIBANA_DIR", copy)
    before = assets._saved_objects_version()
    assert kibana_saved_objects.code_versions_by_key[kibana_saved_objects.key] == before  # same files
    newest = sorted(p for p in copy.glob("*/*.ndjson"))
    assert newest, "a per-version set of saved objects"
    newest[0].write_text(newest[0].read_text() + "\n")
    assert assets._saved_objects_version() != before
