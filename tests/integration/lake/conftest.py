"""Fixtures of the lake tests: one Spark session for all of them, fresh buckets, Kafka topics.

Spark starts slowly on two cores, so every lake test shares one session (the one the `pyspark`
resource builds); isolation comes from a fresh bucket per test and, where needed, fresh topics.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import dagster as dg
import pytest
from lake_support import s3_for
from pyspark.sql import SparkSession

from steam_platform.assets.bus import kafka_topics
from steam_platform.localstack.services.spark import connector_jars
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.s3 import S3Resource
from steam_platform.resources.spark import LakePySparkResource, build_pyspark_resource


@pytest.fixture(scope="session")
def lake_s3(stack_env: dict[str, str]) -> S3Resource:
    """The stack's object store with its default lake bucket."""
    return s3_for(stack_env, stack_env["LAKE_BUCKET"])


@pytest.fixture
def fresh_s3(lake_s3: S3Resource, stack_env: dict[str, str]) -> Callable[[], S3Resource]:
    """Makes a new empty bucket on the same store and returns its resource (an empty lake)."""

    def make() -> S3Resource:
        bucket = f"lake-test-{uuid.uuid4().hex[:12]}"
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
def pyspark_resource(lake_s3: S3Resource) -> LakePySparkResource:
    """The `pyspark` resource as wired for the local stack (connector jars, S3A on the store)."""
    return build_pyspark_resource(lake_s3, jars=[str(p) for p in connector_jars()])


@pytest.fixture(scope="session")
def spark(pyspark_resource: LakePySparkResource) -> Iterator[SparkSession]:
    """The one Spark session of the test session (stopped at the end)."""
    with pyspark_resource.yield_for_execution(dg.build_init_resource_context()) as initialised:
        session: SparkSession = initialised.spark_session
        try:
            yield session
        finally:
            session.stop()
