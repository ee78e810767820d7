"""The warehouse layer; its `Definitions` are in `definitions.py`."""
