"""The platform as a production deployment installs it: a wheel, not an editable checkout.

The wheel is built from the tracked files (through an sdist, as `python -m build` does), installed
with its declared dependencies into a clean virtualenv outside the checkout, and used from a folder
that is not the checkout: the code location loads with none of the local-stack or simulator
modules imported, `dagster definitions validate` passes, and the Kibana saved objects shipped as
package data are provisioned through the import API. A missing dependency, a module left out of
the wheel, or a run-time path into the repository fails here.

Dagster's `dg` comes with the wheel (`dagster-dg-cli` is a dependency). `dg list defs` lists the
installed code location from a folder that holds only the project's `[tool.dg]` configuration
(no source: what it lists is imported from the wheel). `dg check defs` and `dg dev` need the
project's folder as well (dg resolves the root module's folder in it), so they run in the unpacked
sdist with the wheel installed, the layout of the Dockerfile Dagster scaffolds (project copied,
then installed). Each listing is compared with the installed `Definitions` object itself.

Slow (a virtualenv and a full dependency install, from uv's cache after `make install`).
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest
from dg_support import Listing, dev_server, listing_from_dg, listing_json, listing_of, served_listing
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

# The resolved asset carries the code location's resources: production wiring, KIBANA_URL from env.
kibana = defs.resolve_assets_def("kibana_saved_objects")
result = dg.materialize([kibana])
meta = result.asset_materializations_for_node("kibana_saved_objects")[0].metadata
print(json.dumps({
    "package_file": steam_platform.__file__,
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
    kept = ("PATH", "HOME", "LANG", "TMPDIR", "PIP_CACHE_DIR", "UV_CACHE_DIR")
    keep = {k: v for k, v in os.environ.items() if k in kept}
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
    # uv (a dev tool, as `make install` uses it): the same resolution of the wheel's declared
    # dependencies as pip, in about half the time.
    uv = str(Path(sys.executable).parent / "uv")
    python = str(venv / "bin" / "python")
    install = [uv, "pip", "install", "-q", "--system-certs", "--compile-bytecode", "--python", python]
    _run([*install, str(wheel)], venv, _clean_env(), 1500)
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

    files = sorted(PACKAGE_KIBANA.glob("*.ndjson"))
    assert report["provisioned"] is True
    assert [r["parts"][0].get_filename() for r in FakeKibana.received] == [p.name for p in files]
    assert [r["parts"][0].get_payload(decode=True) for r in FakeKibana.received] == [
        p.read_bytes() for p in files
    ]
    assert report["objects_imported"] == sum(len(p.read_text().splitlines()) for p in files)


@pytest.fixture(scope="module")
def installed_listing(clean_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Listing:
    """Every asset, check, job, schedule and sensor of the installed `Definitions` object."""
    # annotations unevaluated: the probe has neither `dg` nor `Any` in scope
    probe = "\n".join(
        [
            "from __future__ import annotations",
            "import json",
            inspect.getsource(listing_json),
            "from steam_platform.definitions import defs",
            "print(json.dumps(listing_json(defs)))",
        ]
    )
    cwd = tmp_path_factory.mktemp("listing")
    env = _clean_env(STEAM_PLATFORM_ENV="production")
    out = _run([str(clean_venv / "bin" / "python"), "-c", probe], cwd, env, 600)
    listing = Listing.from_json(json.loads(out.strip().splitlines()[-1]))
    assert listing.has_every_kind(), listing
    return listing


def test_the_installed_code_location_holds_what_the_checkout_defines(installed_listing: Listing) -> None:
    """A layer's module left out of the wheel would drop its assets, checks, jobs or automation."""
    from steam_platform.definitions import defs

    assert installed_listing == listing_of(defs)


def _dg_project_config() -> str:
    """The project's `[tool.dg]` (pyproject.toml) as a stand-alone `dg.toml` (same keys, top level)."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["dg"]
    lines = [f"directory_type = {json.dumps(config['directory_type'])}", "", "[project]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in config["project"].items()]
    return "\n".join(lines) + "\n"


def _dg_env(venv: Path, **extra: str) -> dict[str, str]:
    return _clean_env(STEAM_PLATFORM_ENV="production", VIRTUAL_ENV=str(venv), DAGSTER_HOME="", **extra)


def test_dg_lists_the_installed_code_location(
    clean_venv: Path, installed_listing: Listing, tmp_path: Path
) -> None:
    (tmp_path / "dg.toml").write_text(_dg_project_config())  # nothing else: no source to import
    dg = str(clean_venv / "bin" / "dg")
    listed = json.loads(_run([dg, "list", "defs", "--json"], tmp_path, _dg_env(clean_venv), 600))

    assert listing_from_dg(listed) == installed_listing


@pytest.fixture(scope="module")
def sdist_project(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's folder as the sdist built next to the wheel holds it."""
    (sdist,) = wheel.parent.glob("steam_platform-*.tar.gz")
    into = tmp_path_factory.mktemp("sdist")
    with tarfile.open(sdist) as archive:
        archive.extractall(into, filter="data")
    (project,) = into.iterdir()
    assert (project / "pyproject.toml").is_file() and not (project / ".venv").exists()
    return project


def test_dg_checks_and_serves_the_project_with_the_wheel_installed(
    clean_venv: Path, installed_listing: Listing, sdist_project: Path, tmp_path: Path
) -> None:
    dg = str(clean_venv / "bin" / "dg")
    env = _dg_env(clean_venv)

    assert "All definitions loaded successfully." in _run([dg, "check", "defs"], sdist_project, env, 600)
    with dev_server([dg, "dev"], sdist_project, env, tmp_path) as server:
        name, served = served_listing(server, timeout=180)

    assert name == "steam_platform"
    assert served == installed_listing


def test_dagster_validates_the_installed_code_location(clean_venv: Path, tmp_path: Path) -> None:
    dagster = str(clean_venv / "bin" / "dagster")
    env = _clean_env(STEAM_PLATFORM_ENV="production")
    out = _run([dagster, "definitions", "validate", "-m", "steam_platform.definitions"], tmp_path, env, 600)
    assert "Validation successful" in out or "success" in out.lower(), out
