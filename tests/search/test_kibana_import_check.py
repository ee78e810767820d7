"""Kibana's documented import rules, run on every shipped saved object for Kibana 7.10, 8.x and 9.x,
and shown to fail: 7.10 stamps refused by 9.x, a deprecated or unregistered visualisation type, a
dangling reference, an unstamped object, a stamp newer than its Kibana, raw ids in JSON attributes,
a data view on an index the platform does not write.

No Kibana runs here; these check the objects against Kibana's rules, not against a server.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from steam_platform.assets.search.assets import KIBANA_DIR
from steam_platform.assets.search.dashboards import saved_object_files
from steam_platform.assets.search.kibana_import_check import check_objects, check_shipped, read_objects
from steam_platform.assets.search.kibana_objects import CURRENT, LOCAL, game_picker
from steam_platform.assets.search.templates import GAME_DAILY
from steam_platform.resources.kibana import imports_into, parse_version

#: Kibana versions the shipped sets are checked for: the local stack, the oldest and newest 8.x the
#: 7.10 set serves, the oldest 8.x the current set serves, the last 8.x, 9.0 and a later 9.x.
TARGETS = ["7.10.2", "8.0.0", "8.7.1", "8.8.0", "8.19.3", "9.0.0", "9.4.1"]
PLAYER_CURVES = "dashboard_player_curves.ndjson"


def _objects(folder: str, name: str = PLAYER_CURVES) -> list[dict[str, Any]]:
    return read_objects(KIBANA_DIR / folder / name)


def _rules(problems: list[str]) -> set[str]:
    return {problem.split("[", 1)[1].split("]", 1)[0] for problem in problems}


@pytest.mark.parametrize("version", TARGETS)
def test_every_shipped_object_imports_into(version: str) -> None:
    report = check_shipped(KIBANA_DIR, version)
    assert len(report) == len(saved_object_files())
    expected_set = "8.8/" if parse_version(version) >= (8, 8, 0) else ""
    assert all(file.startswith(expected_set) for file in report), report.keys()
    assert {file: problems for file, problems in report.items() if problems} == {}
    target = CURRENT if expected_set else LOCAL
    checked = sum(len(read_objects(KIBANA_DIR / file)) for file in report)
    assert checked == sum(len(objects) for objects in saved_object_files(target).values()) >= 15


@pytest.mark.parametrize(
    ("exported", "importing", "compatible"),
    [  # the import API docs' compatibility table, then the cases the platform relies on
        ("6.7.0", "6.8.1", True),
        ("6.8.1", "7.3.0", True),
        ("7.3.0", "7.11.1", True),
        ("7.11.1", "7.6.0", False),
        ("6.8.1", "8.0.0", False),
        ("7.10.0", "8.19.3", True),
        ("7.10.0", "9.0.0", False),
        ("8.8.0", "9.4.1", True),
        ("8.8.0", "8.7.1", False),
        ("8.8.0", "10.0.0", False),
    ],
)
def test_the_documented_compatibility_table(exported: str, importing: str, compatible: bool) -> None:
    assert imports_into(parse_version(exported), parse_version(importing)) is compatible


def test_versions_parse_like_kibana_reports_them() -> None:
    assert parse_version("8.19.3") == (8, 19, 3)
    assert parse_version("9.1.0-SNAPSHOT") == (9, 1, 0)
    assert parse_version("8.8") == (8, 8, 0)
    with pytest.raises(ValueError, match="not a Kibana version"):
        parse_version("latest")


def test_710_stamps_are_refused_by_9_and_accepted_by_8() -> None:
    for name in saved_object_files():
        objects = _objects("", name)
        problems = check_objects(objects, "9.0.0")
        refused = {p.split(":", 1)[0] for p in problems if "[version]" in p}
        assert refused == {f"{o['type']}/{o['id']}" for o in objects}, problems
        assert check_objects(objects, "8.19.3") == []


def test_the_current_set_is_refused_before_88_and_two_majors_on() -> None:
    objects = _objects("8.8")
    assert _rules(check_objects(objects, "8.7.1")) == {"version", "fields"}
    assert _rules(check_objects(objects, "10.0.0")) == {"version"}


def test_a_deprecated_visualisation_type_is_refused_for_9() -> None:
    problems = check_objects(_objects(""), "9.4.1")
    assert [p for p in problems if "[deprecated]" in p] == [
        p
        for p in problems
        if p.startswith("visualization/steam-vis-game-picker: [deprecated] 'input_control_vis'")
    ]
    assert any("[deprecated]" in p for p in problems)


def test_an_unregistered_visualisation_type_is_refused() -> None:
    objects = _objects("8.8")
    vis = next(o for o in objects if o["type"] == "visualization")
    state = json.loads(vis["attributes"]["visState"])
    vis["attributes"]["visState"] = json.dumps(state | {"type": "sankey"})
    assert check_objects(objects, "9.0.0") == [
        f"visualization/{vis['id']}: [vis-type] 'sankey' is not a visualisation type Kibana 9.0.0 registers"
    ]


def test_a_dangling_reference_is_refused() -> None:
    objects = [o for o in _objects("8.8") if o["id"] != f"steam-{GAME_DAILY.alias}"]
    problems = check_objects(objects, "9.0.0")
    assert problems and all("[references] index-pattern/steam-mart_game_daily" in p for p in problems)
    assert len(problems) == 2  # the curve and the table; the dashboard's panels are still in the file


def _first_visualization(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return next(o for o in objects if o["type"] == "visualization")


def test_an_unstamped_object_is_refused() -> None:
    objects = _objects("8.8")
    vis = _first_visualization(objects)
    del vis["typeMigrationVersion"], vis["coreMigrationVersion"]
    (problem,) = check_objects(objects, "9.0.0")
    assert problem.startswith(f"visualization/{vis['id']}: [schema]")


def test_half_stamped_and_foreign_stamps_are_refused() -> None:
    objects = _objects("8.8")
    vis = _first_visualization(objects)
    del vis["coreMigrationVersion"]  # typeMigrationVersion alone: the schema requires both
    (problem,) = check_objects(objects, "9.0.0")
    assert problem.startswith(f"visualization/{vis['id']}: [schema]") and "coreMigrationVersion" in problem
    local = _objects("")
    _first_visualization(local)["migrationVersion"] = {"dashboard": "7.9.3"}  # another type's stamp
    assert _rules(check_objects(local, "8.19.3")) == {"fields"}


def test_a_type_stamp_newer_than_its_kibana_is_refused() -> None:
    objects = _objects("8.8")
    objects[0]["typeMigrationVersion"] = "8.9.0"
    (problem,) = check_objects(objects, "9.0.0")
    assert "[fields] index-pattern stamp 8.9.0 is newer than the Kibana it claims to come from" in problem


def test_raw_ids_in_json_attributes_are_refused() -> None:
    objects = _objects("8.8")
    vis = next(o for o in objects if o["type"] == "visualization")
    source = json.loads(vis["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    vis["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"] = json.dumps(source | {"index": "x"})
    board = next(o for o in objects if o["type"] == "dashboard")
    panels = json.loads(board["attributes"]["panelsJSON"])
    panels[0] |= {"id": vis["id"], "type": "visualization"}
    board["attributes"]["panelsJSON"] = json.dumps(panels)
    problems = check_objects(objects, "9.0.0")
    assert any("searchSourceJSON holds a raw index id" in p for p in problems)
    assert any("panel 1 holds an id" in p for p in problems)
    assert _rules(problems) == {"references"}


def test_data_views_must_be_on_what_the_platform_writes() -> None:
    objects = _objects("8.8")
    renamed = copy.deepcopy(objects)
    renamed[0]["attributes"]["title"] = "game_daily"
    assert _rules(check_objects(renamed, "9.0.0")) == {"data-view"}
    pattern = copy.deepcopy(objects)
    pattern[0]["attributes"]["title"] = "mart_game_daily-v*"  # the concrete indices behind the alias
    assert check_objects(pattern, "9.0.0") == []
    no_time = copy.deepcopy(objects)
    no_time[0]["attributes"]["timeFieldName"] = "day"
    assert _rules(check_objects(no_time, "9.0.0")) == {"data-view"}


def test_the_sets_come_from_one_generator_and_differ_only_in_stamps_and_the_picker() -> None:
    local, current = saved_object_files(LOCAL), saved_object_files(CURRENT)
    assert local.keys() == current.keys()
    for name in local:
        by_id = {o["id"]: o for o in current[name]}
        for obj in local[name]:
            if obj["id"] == "steam-vis-game-picker":
                assert obj["id"] not in by_id  # no legacy input control for 8.8+/9.x
                continue
            other = by_id[obj["id"]]
            assert set(obj) - set(other) == {"migrationVersion"}
            assert set(other) - set(obj) == {"coreMigrationVersion", "typeMigrationVersion"}
            assert other["coreMigrationVersion"] == "8.8.0"
            assert obj["migrationVersion"] == {obj["type"]: other["typeMigrationVersion"]}
            if obj["type"] != "dashboard":
                assert obj["attributes"] == other["attributes"]
    with pytest.raises(ValueError, match="input controls"):
        game_picker("x", GAME_DAILY, CURRENT)


def test_the_cli_lists_problems_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from steam_platform.assets.search.kibana_import_check import _main

    assert _main(["9.0.0"]) == 0
    assert capsys.readouterr().out.count(": ok") == len(saved_object_files())
    (tmp_path / PLAYER_CURVES).write_bytes((KIBANA_DIR / PLAYER_CURVES).read_bytes())  # 7.10 set only
    assert _main(["9.0.0", str(tmp_path)]) == 1
    assert "[version] exported from 7.10.0" in capsys.readouterr().out
