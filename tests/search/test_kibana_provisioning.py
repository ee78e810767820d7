"""Provisioning per Kibana version: the `kibana_saved_objects` asset, through `KibanaResource`,
asks the (fake) Kibana its version and sends the set that version imports: the 7.10 set to 7.10
up to 8.7, the 8.8 set to 8.8 and later, 9.x included. A Kibana that hides its version (9.5+
without `cluster:monitor`) needs the configured version; a Kibana older than the oldest set is
refused before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from kibana_fake import DEFAULT_VERSION, FakeKibana

from steam_platform.assets.search.assets import KIBANA_DIR, kibana_saved_objects
from steam_platform.resources.kibana import KibanaImportError, KibanaResource


@pytest.fixture
def kibana(fake_kibana: str) -> Iterator[str]:
    """The fake Kibana; a test sets `FakeKibana.version`, restored afterwards."""
    FakeKibana.status_requests = []
    yield fake_kibana
    FakeKibana.version = DEFAULT_VERSION


def _sent() -> list[tuple[str, bytes]]:
    return [
        (r["parts"][0].get_filename(), r["parts"][0].get_payload(decode=True)) for r in FakeKibana.received
    ]


def _expected(folder: str) -> list[tuple[str, bytes]]:
    return [
        (p.name, (KIBANA_DIR / folder / p.name).read_bytes()) for p in sorted(KIBANA_DIR.glob("*.ndjson"))
    ]


#: Server version -> the folder of the set it must receive.
SETS = {"7.10.2": "", "8.7.1": "", "8.8.0": "8.8", "8.19.3": "8.8", "9.0.0": "8.8", "9.4.1": "8.8"}


def test_the_asset_sends_the_set_the_server_version_imports(kibana: str) -> None:
    for version, folder in SETS.items():  # one fake server for all versions: each start costs ~0.5 s
        FakeKibana.version, FakeKibana.received, FakeKibana.status_requests = version, [], []
        result = dg.materialize([kibana_saved_objects], resources={"kibana": KibanaResource(url=kibana)})
        assert result.success, version
        assert _sent() == _expected(folder), version
        assert all(r["path"] == "/api/saved_objects/_import?overwrite=true" for r in FakeKibana.received)
        assert FakeKibana.status_requests and set(FakeKibana.status_requests) == {"/api/status"}
        meta = result.asset_materializations_for_node("kibana_saved_objects")[0].metadata
        prefix = f"{folder}/" if folder else ""
        assert meta["files"].value.startswith(f"{prefix}dashboard_"), version
        assert meta["objects_imported"].value == sum(len(body.splitlines()) for _, body in _expected(folder))


def test_a_hidden_version_needs_the_configured_one(kibana: str) -> None:
    FakeKibana.version = None  # 9.5+ answers only the overall level without cluster:monitor
    path = sorted(KIBANA_DIR.glob("*.ndjson"))[0]
    with pytest.raises(KibanaImportError, match="did not report its version"):
        KibanaResource(url=kibana).import_saved_objects(path)
    assert FakeKibana.received == []
    result = KibanaResource(url=kibana, version="9.5.0").import_saved_objects(path)
    assert (result.file, result.kibana_version) == (f"8.8/{path.name}", "9.5.0")
    assert _sent() == [(path.name, (KIBANA_DIR / "8.8" / path.name).read_bytes())]


def test_the_server_version_wins_over_the_configured_one(kibana: str) -> None:
    FakeKibana.version = "8.5.0"
    path = sorted(KIBANA_DIR.glob("*.ndjson"))[0]
    result = KibanaResource(url=kibana, version="9.5.0").import_saved_objects(path)
    assert (result.file, result.kibana_version) == (path.name, "8.5.0")


def test_a_kibana_older_than_every_set_gets_nothing(kibana: str) -> None:
    FakeKibana.version = "7.9.3"
    path = sorted(KIBANA_DIR.glob("*.ndjson"))[0]
    with pytest.raises(KibanaImportError, match=r"Kibana 7\.9\.3 does not import .*stamped 7\.10\.0"):
        KibanaResource(url=kibana).import_saved_objects(path)
    assert FakeKibana.received == []


def test_a_set_only_for_older_kibana_is_not_sent_two_majors_on(kibana: str, tmp_path: Path) -> None:
    """A Kibana 9 must not receive 7.10 stamps even when no newer set exists (e.g. a trimmed copy)."""
    FakeKibana.version = "9.0.0"
    path = tmp_path / "dashboard_news.ndjson"
    path.write_bytes((KIBANA_DIR / path.name).read_bytes())
    with pytest.raises(KibanaImportError, match=r"Kibana 9\.0\.0 does not import dashboard_news\.ndjson"):
        KibanaResource(url=kibana).import_saved_objects(path)
    assert FakeKibana.received == []
