"""Settings are read in one place, and the one list of variables in the docs is the settings' own.

The rule for reading the environment in `steam_platform/`, `streaming/`, `steam_devstack/` and
`steam_simulator/`: only the settings package (`steam_platform/core/settings/`) and
`streaming/environment.py` (streaming may not import the platform) read variables. Everywhere else:

- reading a named variable is refused: `os.environ[...]`, `os.environ.get(...)`, `os.getenv(...)`,
  `"X" in os.environ`, iterating or handing `os.environ` to a function, `dotenv`, `pydantic_settings`;
- writing is allowed (`os.environ[k] = v`, `del`, `.update(...)`, `.setdefault(...)`/`.pop(...)` whose
  result is unused): the platform sets variables for Spark and for the Dagster instance it starts;
- copying the whole environment for a child process is allowed (`dict(os.environ)`,
  `{**os.environ, ...}`, `os.environ.copy()`): that passes the environment on without reading it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import yaml

from steam_platform.core.settings import Settings, SparkSettings
from steam_platform.core.settings.table import markdown_table, table_in
from streaming import environment

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("steam_platform", "streaming", "steam_devstack", "steam_simulator")
#: The only places that read the environment.
READERS = ("steam_platform/core/settings/", "streaming/environment.py")
#: Libraries that read the environment or dotenv files on our behalf.
READING_LIBRARIES = ("dotenv", "pydantic_settings")
ENVIRON = ("environ", "environb")
GETENV = ("getenv", "getenvb")


def environment_reads(source: str) -> list[tuple[int, str]]:
    """(line, what) for every read of the environment in `source` (see the module docstring)."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    reads: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            reads += [(node.lineno, f"import {m}") for m in modules if m.split(".")[0] in READING_LIBRARIES]
            if isinstance(node, ast.ImportFrom) and node.module == "os":
                reads += [
                    (node.lineno, f"from os import {a.name}")
                    for a in node.names
                    if a.name in (*ENVIRON, *GETENV)
                ]
        elif _is_os(node, GETENV):
            reads.append((node.lineno, f"os.{node.attr}"))  # type: ignore[attr-defined]
        elif _is_os(node, ENVIRON):
            what = _environ_read(node, parents)
            if what:
                reads.append((node.lineno, what))
    return sorted(reads)


def _is_os(node: ast.AST, names: tuple[str, ...]) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr in names
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _environ_read(node: ast.AST, parents: Mapping[ast.AST, ast.AST]) -> str | None:
    """How this use of `os.environ` reads it, or None for a write or a whole copy."""
    parent = parents.get(node)
    if isinstance(parent, ast.Subscript) and parent.value is node:
        return None if isinstance(parent.ctx, ast.Store | ast.Del) else "os.environ[...]"
    if isinstance(parent, ast.Attribute) and parent.value is node:
        call = parents.get(parent)
        if isinstance(call, ast.Call) and call.func is parent:
            if parent.attr in ("copy", "update"):
                return None
            if parent.attr in ("setdefault", "pop") and isinstance(parents.get(call), ast.Expr):
                return None  # a write whose result is not used
        return f"os.environ.{parent.attr}"
    if (
        isinstance(parent, ast.Call)
        and isinstance(parent.func, ast.Name)
        and parent.func.id == "dict"
        and parent.args == [node]
    ):
        return None  # dict(os.environ, ...): a copy for a child process
    if isinstance(parent, ast.Dict) and any(
        k is None and v is node for k, v in zip(parent.keys, parent.values, strict=True)
    ):
        return None  # {**os.environ, ...}: a copy for a child process
    if isinstance(parent, ast.Compare):
        return "... in os.environ"
    return "os.environ handed on, aliased or iterated"


def _modules() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((REPO_ROOT / package).rglob("*.py"))


def test_only_the_settings_read_the_environment() -> None:
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{line}: {what}"
        for path in _modules()
        if not str(path.relative_to(REPO_ROOT)).startswith(READERS)
        for line, what in environment_reads(path.read_text())
    ]
    assert not offenders, (
        "read the variable through steam_platform.core.settings (declare it there if it is new; "
        "streaming/ goes through streaming/environment.py):\n" + "\n".join(offenders)
    )


@pytest.mark.parametrize(
    "code",
    [
        "import os\nx = os.environ['HOME']",
        "import os\nx = os.environ.get('HOME')",
        "import os\nx = os.getenv('HOME')",
        "import os\nif 'HOME' not in os.environ: pass",
        "import os\nfor k in os.environ: pass",
        "import os\nx = {k: v for k, v in os.environ.items()}",
        "import os\nenv = os.environ",
        "import os\nshow(os.environ)",
        "import os\nx = os.environ.setdefault('HOME', '/')",
        "from os import environ",
        "from os import getenv",
        "from dotenv import dotenv_values",
        "import dotenv",
        "from pydantic_settings import BaseSettings",
    ],
)
def test_every_kind_of_read_is_caught(code: str) -> None:
    assert environment_reads(code), code


@pytest.mark.parametrize(
    "code",
    [
        "import os\nos.environ['PYSPARK_PYTHON'] = '/usr/bin/python3'",
        "import os\ndel os.environ['X']",
        "import os\nos.environ.update({'A': 'b'})",
        "import os\nos.environ.setdefault('A', 'b')",
        "import os\nos.environ.pop('A', None)",
        "import os\nsubprocess.run(cmd, env=dict(os.environ))",
        "import os\nsubprocess.run(cmd, env={**os.environ, 'PASS': secret})",
        "import os\nenv = os.environ.copy()",
        "import os\npid = os.getpid()",
    ],
)
def test_writes_and_whole_copies_for_child_processes_are_allowed(code: str) -> None:
    assert environment_reads(code) == [], code


# -- streaming/environment.py: the same variables and defaults as the settings ------------------
class _Recording(dict[str, str]):
    """A mapping that remembers which names were looked up."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)


def test_streaming_reads_only_variables_the_settings_declare() -> None:
    recording = _Recording()
    environment.job_environment(recording)
    declared = Settings.variables()
    assert recording.asked == set(environment.JOB_VARIABLES)
    assert set(environment.JOB_VARIABLES) <= set(declared), set(environment.JOB_VARIABLES) - set(declared)
    assert environment.SPARK_GATEWAY_PORT_ENV not in declared  # Spark's own handshake, not a setting


def test_streaming_and_the_settings_share_the_spark_defaults() -> None:
    defaults = {
        name: group.model_fields[field].default for name, (group, field) in Settings.variables().items()
    }
    assert defaults[SparkSettings.env_name("master")] == environment.DEFAULT_SPARK_MASTER == "local[2]"
    assert defaults[SparkSettings.env_name("driver_memory")] == environment.DEFAULT_DRIVER_MEMORY == "1g"
    assert defaults[environment.AWS_REGION_ENV] == environment.DEFAULT_AWS_REGION
    assert SparkSettings.env_name("jars") == environment.SPARK_JARS_ENV == "STEAM_SPARK_JARS"


# -- the docs: one list, generated ----------------------------------------------------------------
def test_the_docs_table_is_the_settings_table() -> None:
    doc = REPO_ROOT / "docs" / "operating.md"
    assert table_in(doc.read_text()) == markdown_table(), (
        "docs/operating.md's table of variables is stale: run "
        "`.venv/bin/python -m steam_platform.core.settings --write docs/operating.md`"
    )


def test_the_readme_points_at_the_list_instead_of_repeating_it() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("\n## Environments\n", 1)[1].split("\n## ", 1)[0]
    assert "docs/operating.md" in section
    assert set(re.findall(r"`([A-Z][A-Z0-9_]{3,})`", section)) <= {"STEAM_PLATFORM_ENV"}


def test_the_deployment_sets_only_declared_variables() -> None:
    """Compose's Dagster environment and the instance's `{env: ...}` names: each one is declared
    (a typo there would otherwise be silently ignored)."""
    declared = set(Settings.variables())
    compose = yaml.safe_load((REPO_ROOT / "deploy" / "docker-compose.yml").read_text())
    instance = (REPO_ROOT / "deploy" / "dagster.yaml").read_text()
    used = set(compose["x-dagster-env"]) | set(re.findall(r"\{env: ([A-Z0-9_]+)\}", instance))
    assert used and used <= declared, used - declared
