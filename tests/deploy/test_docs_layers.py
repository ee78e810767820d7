"""The layer table is written once (docs/architecture.md, "Layers") and stays true to the tree.

Copies of it used to drift apart; now the README and the package docstrings point at it, and this
test fails when a folder or file it names is moved away or a new layer folder is not listed.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def layer_table() -> list[str]:
    """The rows of the "Layers" table in docs/architecture.md."""
    section = ARCHITECTURE.read_text().split("## Layers", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| layer")]


def named_paths(rows: list[str]) -> set[str]:
    """Repository paths the table names in backticks (files and folders, globs excluded)."""
    found = {p for row in rows for p in re.findall(r"`([\w./-]+/[\w./-]*)`", row)}
    return {p for p in found if "*" not in p}


def test_every_path_in_the_layer_table_exists() -> None:
    paths = named_paths(layer_table())
    assert len(paths) >= 10, paths
    assert [p for p in sorted(paths) if not (ROOT / p).exists()] == []


def test_every_layer_folder_is_in_the_layer_table() -> None:
    listed = " ".join(layer_table())
    folders = sorted(
        p.name for p in (ROOT / "steam_platform" / "assets").iterdir() if (p / "__init__.py").exists()
    )
    assert folders, "no layer folders found"
    assert [f for f in folders if f"`steam_platform/assets/{f}/`" not in listed] == []
