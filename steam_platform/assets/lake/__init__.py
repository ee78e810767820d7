"""The lake layer; its `Definitions` are in `definitions.py`."""
