"""Typed Dagster resources for every external system (Steam, Kafka, S3, Spark, Elasticsearch)."""
