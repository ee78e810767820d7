"""The platform as a production deployment installs it: a wheel, not an editable checkout.

The wheel is built from the tracked files (through an sdist, as `python -m build` does), installed
with its declared dependencies into a clean virtualenv outside the checkout, and used from a folder
that is not the checkout: the code location loads with none of the local-stack or simulator
modules imported, `dagster definitions validate` passes, and the Kibana saved objects shipped as
package data are provisioned through the import API. A missing dependency, a module left out of
the wheel, or a run-time path into the repository fails here.

Slow (a virtualenv and a full dependency install, from pip's cache after `make install`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kibana_fake import FakeKibana

REPO = Path(__file__).resolve().parents[2]
PACKAGE_KIBANA = REPO / "steam_platform" / "assets" / "search" / "kibana"

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(1800)]

#: Run inside the clean virtualenv: load the code location, provision Kibana, report as JSON.
PROBE = """
import json, sys
import dagster as dg
import steam_platform
from steam_platform.definitions import defs

graph = defs.resolve_asset_graph()
# The resolved asset carries the code location's resources: production wiring, KIBANA_URL from env.
kibana = defs.resolve_assets_def("kibana_saved_objects")
result = dg.materialize([kibana])
meta = result.asset_materializations_for_node("kibana_saved_objects")[0].metadata
print(json.dumps({
    "package_file": steam_platform.__file__,
    "assets": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
    "sensors": sorted(s.name for s in defs.sensors),
    "schedules": sorted(s.name for s in defs.schedules),
    "dev_modules": sorted(m for m in sys.modules if m.split(".")[0] in ("steam_devstack", "steam_simulator")),
    "provisioned": meta["provisioned"].value,
    "objects_imported": meta["objects_imported"].value,
}))
"""


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (
        f"{argv[:3]} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout


def _clean_env(**extra: str) -> dict[str, str]:
    """A process environment with nothing pointing into the checkout or its virtualenv."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "PIP_CACHE_DIR")}
    keep["PATH"] = os.pathsep.join(p for p in keep.get("PATH", "").split(os.pathsep) if str(REPO) not in p)
    return {**keep, **extra}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the tracked files only (what a clean clone holds)."""
    source = tmp_path_factory.mktemp("source")
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=60
    ).stdout.split(b"\0")
    for name in filter(None, (t.decode() for t in tracked)):
        src, dst = REPO / name, source / name
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the working tree
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            dst.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, dst)
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(source)], source, dict(os.environ), 900)
    (built,) = out.glob("steam_platform-*.whl")
    return built


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A new virtualenv (outside the checkout) with the wheel and its declared dependencies."""
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", str(venv)], venv, _clean_env(), 300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--progress-bar", "off", "-q"]
    _run([*pip, str(wheel)], venv, _clean_env(), 1500)
    return venv


def test_the_wheel_holds_the_package_data(wheel: Path) -> None:
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"steam_platform/assets/search/kibana/{p.name}" for p in PACKAGE_KIBANA.glob("*.ndjson")}
    assert expected and expected <= names
    assert {"steam_platform/core/tracked.yaml", "steam_platform/py.typed"} <= names
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "deploy/"))]


def test_installed_wheel_loads_the_code_location_and_provisions_kibana(
    clean_venv: Path, fake_kibana: str, tmp_path: Path
) -> None:
    python = str(clean_venv / "bin" / "python")
    env = _clean_env(STEAM_PLATFORM_ENV="production", KIBANA_URL=fake_kibana)
    report = json.loads(_run([python, "-c", PROBE], tmp_path, env, 600).strip().splitlines()[-1])

    assert Path(report["package_file"]).is_relative_to(clean_venv), report["package_file"]
    assert report["dev_modules"] == []
    assert {"player_counts", "bronze_news", "fact_news", "mart_game_daily", "search_news"} <= set(
        report["assets"]
    )
    assert report["sensors"] == ["lake_refresh_sensor", "marts_automation_sensor", "search_automation_sensor"]
    assert len(report["schedules"]) == 4

    files = sorted(PACKAGE_KIBANA.glob("*.ndjson"))
    assert report["provisioned"] is True
    assert [r["parts"][0].get_filename() for r in FakeKibana.received] == [p.name for p in files]
    assert [r["parts"][0].get_payload(decode=True) for r in FakeKibana.received] == [
        p.read_bytes() for p in files
    ]
    assert report["objects_imported"] == sum(len(p.read_text().splitlines()) for p in files)


def test_dagster_validates_the_installed_code_location(clean_venv: Path, tmp_path: Path) -> None:
    dagster = str(clean_venv / "bin" / "dagster")
    env = _clean_env(STEAM_PLATFORM_ENV="production")
    out = _run([dagster, "definitions", "validate", "-m", "steam_platform.definitions"], tmp_path, env, 600)
    assert "Validation successful" in out or "success" in out.lower(), out
