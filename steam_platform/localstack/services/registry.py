"""The local stack's services, in start order (`stack down` stops them in reverse)."""

from __future__ import annotations

from steam_platform.localstack.services.base import Service
from steam_platform.localstack.services.elasticsearch import ElasticsearchService
from steam_platform.localstack.services.kafka import KafkaService
from steam_platform.localstack.services.postgres import PostgresService
from steam_platform.localstack.services.s3 import S3Service
from steam_platform.localstack.services.simulator import SimulatorService
from steam_platform.localstack.services.spark import SparkConnectors

SERVICE_TYPES: list[type[Service]] = [
    PostgresService,
    KafkaService,
    S3Service,
    SparkConnectors,
    ElasticsearchService,
    SimulatorService,
]
