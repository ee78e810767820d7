"""One folder per layer of the flow, each exporting one `Definitions` from its `definitions.py`.

| folder | layer |
|---|---|
| `ingest/` | Steam -> Kafka: partitioned ingest assets and their schedules |
| `bus/` | the Kafka topics (partitions, replication) and their audit |
| `lake/` | Kafka -> bronze Parquet on S3 (Spark), and the sensor that keeps every layer current |
| `warehouse/` | bronze -> typed, deduplicated silver tables, with checks and contracts |
| `marts/` | silver -> gold tables, with checks, contracts and their automation |
| `search/` | marts -> Elasticsearch indices and the Kibana saved objects |
"""
