"""The search layer; its `Definitions` are in `definitions.py`."""
