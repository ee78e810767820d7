"""One folder per layer of the flow, each exporting one `Definitions` from its `definitions.py`.

What each layer does, where its code and storage are: the table "Layers" of docs/architecture.md
(the one place it is written; a test checks it against these folders).
"""
