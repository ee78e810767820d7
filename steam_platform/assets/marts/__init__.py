"""The marts layer; its `Definitions` are in `definitions.py`."""
