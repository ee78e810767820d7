"""The search layer: Elasticsearch templates, lake reader and bulk indexing for marts and news."""
