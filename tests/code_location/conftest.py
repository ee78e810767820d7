"""Fixtures of the code location's tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from steam_platform.core.settings import Settings


@pytest.fixture(autouse=True)
def _credentials_restored() -> Iterator[None]:
    """The credential variables as they were before the test: the local wiring copies a stack env
    file's credentials into the process environment (`export_stack_credentials`), and a test's
    stack must not leave them to the next test."""
    names = {name for group in Settings.groups() for name in group.credential_names()}
    saved = {name: os.environ.get(name) for name in names}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
