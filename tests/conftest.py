"""Shared fixtures: one local stack of real servers per test session, on free ports.

The stack lives in a temporary state folder and is always stopped at the end of the session (also
when tests fail). `STEAM_TEST_SERVICES=kafka,s3` limits which servers start, for quick iteration.
Clients of the stack shared by several modules live here too: `s3` (the lake's object store) and
`spark_session` (one Spark session with the connector jars for the whole test session: Spark starts
slowly on two cores) and `spark` (the same session on the stack's object store).

Stack state folders live under their own temporary root, not pytest's `tmp_path`: when the tests
run as root the servers run as an unprivileged user, and every pytest session that starts (another
developer's, a second terminal) resets `/tmp/pytest-of-root` to mode 0700, which would cut running
servers off from their own data.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import pytest
import worker_groups
from http_fake import serve_handler
from kibana_fake import FakeKibana
from lake_support import s3_for

from steam_devstack.services.spark_connect import SparkConnectService
from steam_devstack.stack import LocalStack
from steam_platform.resources.elasticsearch import ElasticsearchResource
from steam_platform.resources.s3 import S3Resource

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from steam_platform.resources.es_client import SearchClient
    from steam_platform.resources.spark import LakePySparkResource


#: What a test needs, read from the fixtures it uses: the marker `make unit` and `-m` select on.
NEEDS = {
    "local_stack": "integration",
    "spark_cluster": "cluster",
    "shared_kafka_cluster": "kafka_security",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with what it needs, so a test using the stack is never taken for a unit test;
    put the longest worker groups first, and check that shared servers are shared (worker_groups)."""
    for item in items:
        for fixture, marker in NEEDS.items():
            if fixture in getattr(item, "fixturenames", ()) and item.get_closest_marker(marker) is None:
                item.add_marker(marker)
    worker_groups.check_shared_servers(items)
    worker_groups.longest_first(items)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop a group's shared servers once its last test ran (`worker_groups.stop_at_group_end`)."""
    worker_groups.end_group_after(item, nextitem)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile` (what `make test` runs) with the shared-server groups of `worker_groups`."""
    if config.getvalue("dist") == "loadfile":
        return worker_groups.SharedServerScheduling(config, log)
    return None


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
    # No Spark Connect server by default: most tests run Spark in this process; those that attach
    # start it through `spark_connect` (the daemon's unattended test, the Connect lake tests).
    stack = LocalStack(state, brokers=1, only=only, prefer_default_ports=False, spark_connect=False)
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


@pytest.fixture(scope="session")
def stack_env(local_stack: LocalStack) -> dict[str, str]:
    """Client environment variables (`KAFKA_BOOTSTRAP_SERVERS`, `S3_ENDPOINT_URL`, ...) of the stack."""
    return local_stack.endpoints()


@pytest.fixture(scope="session")
def s3(stack_env: dict[str, str]) -> S3Resource:
    """The stack's object store with its default lake bucket (`LAKE_BUCKET`)."""
    return s3_for(stack_env, stack_env["LAKE_BUCKET"])


@pytest.fixture(scope="session")
def spark_connect(local_stack: LocalStack) -> Iterator[SparkConnectService]:
    """The supervised Spark Connect server on the session's stack (its S3, a free port), stopped after."""
    service = SparkConnectService(local_stack.ctx)
    service.install()
    try:
        service.start()
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def pyspark_resource(s3: S3Resource) -> LakePySparkResource:
    """The `pyspark` resource as wired for the local stack (connector jars, S3A on the store)."""
    from steam_devstack.services.spark import connector_jars
    from steam_platform.resources.spark import build_pyspark_resource

    return build_pyspark_resource(s3, jars=[str(p) for p in connector_jars()])


@pytest.fixture(scope="session")
def spark_session() -> Iterator[SparkSession]:
    """The one Spark session of the test session (`local[2]`, the connector jars), needing no server.

    One Python process holds one SparkContext and a context starts slowly on two cores, so every
    test that runs Spark shares it: pure transforms on in-memory frames use it as it is, tests on
    the lake get it through `spark`, pointed at the stack's object store.
    """
    from steam_devstack.services.spark import connector_jars
    from steam_platform.resources.spark import APP_NAME
    from streaming.spark_session import build_spark_session

    session = build_spark_session(APP_NAME, jars=[str(p) for p in connector_jars()])
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="session")
def spark(spark_session: SparkSession, pyspark_resource: LakePySparkResource) -> SparkSession:
    """The test session's Spark session as the `pyspark` resource sets it up for a run (S3A on the stack)."""
    with pyspark_resource.yield_for_execution(dg.build_init_resource_context()) as initialised:
        session: SparkSession = initialised.spark_session
    assert session is spark_session
    return session


@pytest.fixture(scope="session")
def es_resource(stack_env: dict[str, str]) -> ElasticsearchResource:
    """The stack's Elasticsearch, with few retries so a broken call fails fast."""
    return ElasticsearchResource(url=stack_env["ELASTICSEARCH_URL"], retry_attempts=2)


@pytest.fixture
def es(es_resource: ElasticsearchResource) -> Iterator[SearchClient]:
    """A client; the platform's search indices (shared alias names) are removed before and after."""
    from steam_platform.assets.search.templates import INDEX_SPECS

    client = es_resource.client()
    for spec in INDEX_SPECS:
        client.delete_index(f"{spec.alias}-v*")
    yield client
    for spec in INDEX_SPECS:
        client.delete_index(f"{spec.alias}-v*")


@pytest.fixture
def fake_kibana() -> Iterator[str]:
    """Kibana's saved-objects import endpoint (`kibana_fake.FakeKibana`), reset, at a free port."""
    FakeKibana.received = []
    FakeKibana.objects = {}
    FakeKibana.refuse = False
    with serve_handler(FakeKibana) as url:
        yield url


@pytest.fixture(scope="session", autouse=True)
def shared_temp_folder_stays_open() -> Iterator[None]:
    """The system's temp folder (1777) must leave the session as it came: a test or stack that
    closed it broke every server that unpacks native libraries there (Kafka's zstd), far from the
    cause. Restored, then reported as an error of the session."""
    temp = Path(tempfile.gettempdir())
    before = stat.S_IMODE(temp.stat().st_mode)
    yield
    after = stat.S_IMODE(temp.stat().st_mode)
    if after != before:
        temp.chmod(before)
        pytest.fail(f"{temp} was changed from {before:o} to {after:o} during the session (restored)")
