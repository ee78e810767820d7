"""Shared fixtures: one local stack of real servers per test session, on free ports.

The stack lives in a temporary state folder and is always stopped at the end of the session (also
when tests fail). `STEAM_TEST_SERVICES=kafka,s3` limits which servers start, for quick iteration.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from steam_platform.localstack.stack import LocalStack


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A running single-broker stack (free ports, temporary state), torn down after the session."""
    only = [s for s in os.environ.get("STEAM_TEST_SERVICES", "").split(",") if s] or None
    state: Path = tmp_path_factory.mktemp("stack")
    stack = LocalStack(state, brokers=1, only=only, prefer_default_ports=False)
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


@pytest.fixture(scope="session")
def stack_env(local_stack: LocalStack) -> dict[str, str]:
    """Client environment variables (`KAFKA_BOOTSTRAP_SERVERS`, `S3_ENDPOINT_URL`, ...) of the stack."""
    return local_stack.endpoints()
