"""The test session's worker groups: a group's shared servers stop right after its last test.

Fake module paths (each its own group), so the session's real groups and servers are not touched.
"""

from __future__ import annotations

from dataclasses import dataclass

import worker_groups

GROUP = "tests/fake/test_with_a_server.py"


@dataclass
class FakeItem:
    """What `end_group_after` reads of a test item."""

    nodeid: str


def test_a_groups_servers_stop_after_its_last_test_and_not_before() -> None:
    stopped: list[str] = []
    worker_groups.stop_at_group_end(GROUP, lambda: stopped.append("server"))
    first, last = FakeItem(f"{GROUP}::test_a"), FakeItem(f"{GROUP}::test_b")
    other = FakeItem("tests/fake/test_without.py::test_c")

    worker_groups.end_group_after(first, last)  # the next test is of the same group: still needed
    assert stopped == []
    worker_groups.end_group_after(last, other)  # the group's last test
    assert stopped == ["server"]
    worker_groups.end_group_after(other, None)  # the session's last test: nothing stops twice
    assert stopped == ["server"]


def test_the_last_test_of_the_session_ends_its_group() -> None:
    stopped: list[str] = []
    worker_groups.stop_at_group_end(GROUP, lambda: stopped.append("server"))
    worker_groups.end_group_after(FakeItem(f"{GROUP}::test_x"), None)
    assert stopped == ["server"]


def test_modules_of_a_shared_server_are_one_group() -> None:
    assert worker_groups.group_of("tests/bus/test_kafka.py::t") == worker_groups.KAFKA_GROUP
    assert worker_groups.group_of("tests/devstack/test_stack_cli.py::t") == worker_groups.KAFKA_GROUP
