"""The bus layer; its `Definitions` are in `definitions.py`."""
