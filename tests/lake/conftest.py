"""Fixtures of the lake tests: fresh buckets, the platform's Kafka topics, a Spark standalone cluster,
a Spark Connect server.

Spark starts slowly on two cores, so every lake test that runs `local[2]` uses the test session's
one Spark session (`spark` / `pyspark_resource` in tests/conftest.py); isolation comes from a fresh
bucket per test and, where needed, fresh topics. The standalone cluster (master + 2 workers, as
`stack up --spark-cluster` starts it) starts once, only if a `cluster` test asks for it; the Spark
Connect server (`stack up --spark-connect`) likewise, on the session's stack (`spark_connect`, in
tests/conftest.py: the daemon's tests attach to it too).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
import worker_groups
from lake_support import s3_for

from steam_devstack.services.registry import SPARK_CLUSTER
from steam_devstack.services.spark_cluster import SparkClusterService
from steam_devstack.stack import LocalStack
from steam_platform.assets.bus.topics import kafka_topics
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.s3 import S3Resource


@pytest.fixture(scope="session")
def lake_s3(s3: S3Resource) -> S3Resource:
    """The stack's object store with its default lake bucket (the session's shared `s3`)."""
    return s3


@pytest.fixture(scope="session")
def fresh_s3(lake_s3: S3Resource, stack_env: dict[str, str]) -> Callable[..., S3Resource]:
    """Makes a new empty bucket on the same store and returns its resource (an empty lake)."""

    def make(prefix: str = "lake-test") -> S3Resource:
        bucket = f"{prefix}-{uuid.uuid4().hex[:12]}"
        lake_s3.client().create_bucket(Bucket=bucket)
        return s3_for(stack_env, bucket)

    return make


@pytest.fixture(scope="session")
def lake_kafka(stack_env: dict[str, str]) -> KafkaResource:
    """The stack's Kafka with the platform's topics created."""
    kafka = KafkaResource(bootstrap_servers=stack_env["KAFKA_BOOTSTRAP_SERVERS"])
    assert dg.materialize([kafka_topics], resources={"kafka": kafka}).success
    return kafka


@pytest.fixture(scope="session")
def spark_cluster(stack_state_dir: Callable[[str], Path]) -> Iterator[SparkClusterService]:
    """A running standalone cluster (its own state folder and free ports), stopped after its group's last
    test (`worker_groups.stop_at_group_end`) or the session."""
    stack = LocalStack(
        stack_state_dir("spark-cluster"), only=[SPARK_CLUSTER], spark_cluster=True, prefer_default_ports=False
    )
    try:
        stack.up()
        (service,) = stack.services
        assert isinstance(service, SparkClusterService)
        worker_groups.stop_at_group_end(worker_groups.SPARK_CLUSTER_GROUP, stack.down)
        yield service
    finally:
        stack.down()
