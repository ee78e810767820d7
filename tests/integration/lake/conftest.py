"""Fixtures of the lake tests: fresh buckets and Kafka topics.

Spark starts slowly on two cores, so every lake test uses the test session's one Spark session
(`spark` / `pyspark_resource` in tests/conftest.py); isolation comes from a fresh bucket per test
and, where needed, fresh topics.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import dagster as dg
import pytest
from lake_support import s3_for

from steam_platform.assets.bus.topics import kafka_topics
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.s3 import S3Resource


@pytest.fixture(scope="session")
def lake_s3(s3: S3Resource) -> S3Resource:
    """The stack's object store with its default lake bucket (the session's shared `s3`)."""
    return s3


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
