"""The local stack's services, in start order (`stack down` stops them in reverse)."""

from __future__ import annotations

from steam_devstack.services.base import Service
from steam_devstack.services.elasticsearch import ElasticsearchService
from steam_devstack.services.kafka import KafkaService
from steam_devstack.services.postgres import PostgresService
from steam_devstack.services.s3 import S3Service
from steam_devstack.services.simulator import SimulatorService
from steam_devstack.services.spark import SparkConnectors

SERVICE_TYPES: list[type[Service]] = [
    PostgresService,
    KafkaService,
    S3Service,
    SparkConnectors,
    ElasticsearchService,
    SimulatorService,
]
