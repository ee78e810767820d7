"""The Makefile's `.PHONY` list names exactly the targets it defines (a newcomer reads it as the menu)."""

from __future__ import annotations

import re
from pathlib import Path

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"


def test_phony_names_exactly_the_defined_targets() -> None:
    text = MAKEFILE.read_text()
    phony = set(re.search(r"^\.PHONY:(.*)$", text, re.MULTILINE).group(1).split())  # type: ignore[union-attr]
    defined = set(re.findall(r"^([a-z][\w-]*):(?!=)", text, re.MULTILINE))
    assert phony == defined, {"phony, not defined": phony - defined, "defined, not phony": defined - phony}
    assert {"install", "run", "test", "unit"} <= defined
