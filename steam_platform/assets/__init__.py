"""Dagster assets, one module per layer (ingest, lake, warehouse, marts, search)."""
