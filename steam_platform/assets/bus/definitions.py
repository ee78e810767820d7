"""The bus layer: the Kafka topics every source lands in (partitions, replication, retention, ISR).

`audit.py` reads the brokers back (leaders per broker, ISR sizes, metrics) for the load test and
the broker-failure drill.
"""

import dagster as dg

from steam_platform.assets.bus.topics import kafka_topics

defs = dg.Definitions(assets=[kafka_topics])
