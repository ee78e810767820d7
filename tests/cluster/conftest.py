"""Fixtures of the cluster tests: a Spark standalone cluster (master + 2 workers) per module.

The cluster is the stack's own service (`SparkClusterService`, as `stack up --spark-cluster` starts
it) in a state folder of its own, on free ports, and is stopped after the module, also when a test
fails. Kafka and the object store are the test session's stack (`local_stack` in tests/conftest.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
from lake_support import s3_for

from steam_devstack.services.registry import SPARK_CLUSTER
from steam_devstack.services.spark_cluster import SparkClusterService
from steam_devstack.stack import LocalStack
from steam_platform.assets.bus.topics import kafka_topics
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.s3 import S3Resource


@pytest.fixture(scope="module")
def spark_cluster(stack_state_dir: Callable[[str], Path]) -> Iterator[SparkClusterService]:
    """A running standalone cluster (its own state folder and free ports), stopped after the module."""
    stack = LocalStack(
        stack_state_dir("spark-cluster"), only=[SPARK_CLUSTER], spark_cluster=True, prefer_default_ports=False
    )
    try:
        stack.up()
        (service,) = stack.services
        assert isinstance(service, SparkClusterService)
        yield service
    finally:
        stack.down()


@pytest.fixture(scope="session")
def cluster_kafka(stack_env: dict[str, str]) -> KafkaResource:
    """The session stack's Kafka with the platform's topics created."""
    kafka = KafkaResource(bootstrap_servers=stack_env["KAFKA_BOOTSTRAP_SERVERS"])
    assert dg.materialize([kafka_topics], resources={"kafka": kafka}).success
    return kafka


@pytest.fixture(scope="session")
def new_bucket(s3: S3Resource, stack_env: dict[str, str]) -> Callable[[str], S3Resource]:
    """Makes an empty bucket (an empty lake) on the session stack's store and returns its resource."""

    def make(prefix: str) -> S3Resource:
        bucket = f"{prefix}-{uuid.uuid4().hex[:10]}"
        s3.client().create_bucket(Bucket=bucket)
        return s3_for(stack_env, bucket)

    return make
