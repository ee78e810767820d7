"""A `foreachBatch` function for test_worker_forkserver.py that records the worker it is loaded in.

Spark's worker unpickles its function before it reports itself started; unpickling this one writes
down where that happened. It is pickled by reference, so the worker finds it only through the
`PYTHONPATH` its launcher was given.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def record_worker(path: str) -> RecordingFunction:
    """Write what the loading worker looks like to `path`; returns the function."""
    seen = {
        "pid": os.getpid(),
        "parent": os.getppid(),
        "cwd": os.getcwd(),
        "marker": os.environ.get("FORKED_BATCH_MARKER"),
        "preloaded": "streaming.bronze_connect" in sys.modules,
    }
    with open(path, "w") as out:
        json.dump(seen, out)
    return RecordingFunction(path)


class RecordingFunction:
    """Pickles as a call of `record_worker`: loading it in a worker records that worker."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return record_worker, (self.path,)

    def __call__(self, batch: Any, batch_id: int) -> None:
        raise AssertionError("the test runs no batch: a batch needs a Spark Connect server")
