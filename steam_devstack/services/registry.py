"""The local stack's services, in start order (`stack down` stops them in reverse).

Optional services start only when asked for (`stack up --spark-cluster`, `--spark-connect`, `--monitoring`);
the choice is kept in the stack's `stack.json`.
"""

from __future__ import annotations

from steam_devstack.services.base import Service
from steam_devstack.services.elasticsearch import ElasticsearchService
from steam_devstack.services.kafka import KafkaService
from steam_devstack.services.monitoring import MonitoringService
from steam_devstack.services.postgres import PostgresService
from steam_devstack.services.s3 import S3Service
from steam_devstack.services.simulator import SimulatorService
from steam_devstack.services.spark import SparkConnectors
from steam_devstack.services.spark_cluster import SparkClusterService
from steam_devstack.services.spark_connect import SparkConnectService

SERVICE_TYPES: list[type[Service]] = [
    PostgresService,
    KafkaService,
    S3Service,
    SparkConnectors,
    SparkClusterService,
    SparkConnectService,  # after S3 and the connector jars: it points S3A at the one, loads the other
    ElasticsearchService,
    SimulatorService,
    MonitoringService,  # last: its exporter reads every other server
]

#: The Spark standalone cluster (master + two workers): started only with `--spark-cluster`.
SPARK_CLUSTER = SparkClusterService.name
#: The Spark Connect server Dagster runs attach to: started only with `--spark-connect`.
SPARK_CONNECT = SparkConnectService.name
#: Prometheus, Alertmanager and the platform's metrics exporter: started only with `--monitoring`.
MONITORING = MonitoringService.name
#: Services not in a stack unless requested.
OPTIONAL_SERVICES: frozenset[str] = frozenset({SPARK_CLUSTER, SPARK_CONNECT, MONITORING})
