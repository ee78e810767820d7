"""The ingest layer; its `Definitions` are in `definitions.py`."""
