"""One module per server of the local stack; `registry.py` lists them in start order."""
