"""Shared fixtures: one local stack of real servers per test session, on free ports.

The stack lives in a temporary state folder and is always stopped at the end of the session (also
when tests fail). `STEAM_TEST_SERVICES=kafka,s3` limits which servers start, for quick iteration.

Stack state folders live under their own temporary root, not pytest's `tmp_path`: when the tests
run as root the servers run as an unprivileged user, and every pytest session that starts (another
developer's, a second terminal) resets `/tmp/pytest-of-root` to mode 0700, which would cut running
servers off from their own data.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from steam_platform.localstack.stack import LocalStack


@pytest.fixture(scope="session")
def stack_state_dir() -> Iterator[Callable[[str], Path]]:
    """Make fresh stack state folders (`make("kafka3")`), all deleted at the end of the session."""
    root = Path(tempfile.mkdtemp(prefix="steam-stack-tests-"))
    root.chmod(0o711)  # servers running as the service user must traverse it

    def make(name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))

    try:
        yield make
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def local_stack(stack_state_dir: Callable[[str], Path]) -> Iterator[LocalStack]:
    """A running single-broker stack (free ports, temporary state), torn down after the session."""
    only = [s for s in os.environ.get("STEAM_TEST_SERVICES", "").split(",") if s] or None
    state = stack_state_dir("stack")
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
