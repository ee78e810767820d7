"""Which tests share a pytest-xdist worker when `make test` runs the suite on two workers.

Most of the suite's time is spent waiting on servers and JVMs, so two workers (one per core) run
it in about half the time. A worker runs whole groups: by default a test module (its module
fixtures, such as a lake built once for its tests, are built once, as without workers); modules
that share a server started once per session for them run on one worker, so that server starts
once: the three-broker SASL_SSL cluster (`shared_kafka_cluster`) and the Spark standalone cluster
(`spark_cluster`). Modules whose commands prefer the stack's default ports (`stack up`, the main
command) join the Kafka group, so two of them never race for one port.

A group's shared server is stopped as soon as the group's last test has run (`stop_at_group_end`),
not at the end of the session: the worker goes on with other modules, and three idle SASL_SSL brokers
(with the servers the main command started beside them) cost ~0.3 of the two cores meanwhile.

Why a scheduler of our own: pytest-xdist's `--dist loadgroup` reads `xdist_group` marks by
rewriting node ids, which pytest 9.2 ignores (pytest-xdist issue #1386: every test is then
scheduled alone, module fixtures run once per worker). `pytest_xdist_make_scheduler` is xdist's
documented hook for a scheduler; ours is its `loadfile` scheduler with the groups below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

KAFKA_GROUP = "kafka_security"
SPARK_CLUSTER_GROUP = "spark_cluster"

#: Module -> its group, for modules that must not run beside another module of the same group.
SHARED_GROUPS: dict[str, str] = {
    "tests/bus/test_kafka.py": KAFKA_GROUP,
    "tests/bus/test_kafka_alerts.py": KAFKA_GROUP,
    "tests/bus/test_kafka_load.py": KAFKA_GROUP,
    "tests/bus/test_kafka_metrics.py": KAFKA_GROUP,
    "tests/bus/test_secure_access_errors.py": KAFKA_GROUP,
    "tests/bus/test_secure_broker_crash.py": KAFKA_GROUP,
    "tests/bus/test_secure_main_run.py": KAFKA_GROUP,  # also the stack's default ports
    "tests/devstack/test_stack_cli.py": KAFKA_GROUP,  # default ports
    "tests/devstack/test_cluster_stack.py": KAFKA_GROUP,  # default ports
    "tests/lake/test_cluster_lake.py": SPARK_CLUSTER_GROUP,
    "tests/lake/test_connect_on_cluster.py": SPARK_CLUSTER_GROUP,
}
#: The fixture that starts each group's shared server.
SERVER_OF_GROUP = {"shared_kafka_cluster": KAFKA_GROUP, "spark_cluster": SPARK_CLUSTER_GROUP}

#: The longest groups (measured, `make test` prints the slowest tests), started first so that the
#: short ones fill in around them and both workers end together.
LONGEST_FIRST = (
    "tests/automation/test_automation_daemon.py",
    "tests/automation/test_daemon_faults.py",
    SPARK_CLUSTER_GROUP,
    KAFKA_GROUP,
    "tests/lake/test_lake_pipeline.py",
    "tests/lake/test_quiet_data.py",
    "tests/deploy/test_wheel.py",
)


def module_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def group_of(nodeid: str) -> str:
    """The worker group of a test, from its node id."""
    module = module_of(nodeid)
    return SHARED_GROUPS.get(module, module)


def check_shared_servers(items: list[pytest.Item]) -> None:
    """Fail the collection when a module uses a shared server without being in its group (it would
    start that server a second time on the other worker, or race for its ports)."""
    for item in items:
        for fixture, group in SERVER_OF_GROUP.items():
            if fixture in getattr(item, "fixturenames", ()) and group_of(item.nodeid) != group:
                raise pytest.UsageError(
                    f"{module_of(item.nodeid)} uses {fixture}: add it to SHARED_GROUPS in "
                    f"tests/worker_groups.py as {group!r}"
                )


def longest_first(items: list[pytest.Item]) -> None:
    """Put the longest groups first, each module's tests keeping their order."""
    rank = {group: i for i, group in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(group_of(item.nodeid), len(rank)))


#: What stops each group's shared servers, run once the group's last test has run.
_AT_GROUP_END: dict[str, list[Callable[[], None]]] = {}


def stop_at_group_end(group: str, stop: Callable[[], None]) -> None:
    """Run `stop` once the last test of `group` has run on this worker (the fixture that started the
    server stops it again at the end of the session: `stop` must allow that)."""
    _AT_GROUP_END.setdefault(group, []).append(stop)


def end_group_after(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After `item`'s teardown: when the next test (None: no more) is of another group, stop what
    `item`'s group registered. Groups run whole and one after the other (`longest_first` and the
    scheduler), so the group does not come back on this worker."""
    group = group_of(item.nodeid)
    if nextitem is not None and group_of(nextitem.nodeid) == group:
        return
    for stop in _AT_GROUP_END.pop(group, []):
        stop()


class SharedServerScheduling(LoadScopeScheduling):
    """xdist's `loadfile` scheduling, with the modules of one shared server in one unit of work,
    handed out in collection order (longest first), not by number of tests."""

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        config.option.loadscopereorder = False
        super().__init__(config, log)

    def _split_scope(self, nodeid: str) -> str:
        return group_of(nodeid)
