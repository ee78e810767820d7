"""Where the streaming datasets live under the lake root (one place, so jobs, assets and tests agree).

Bronze, quarantine and checkpoints; the silver and gold tables' paths come from their contracts
(`Table.path` in `steam_platform/core/contracts.py`).
"""

from __future__ import annotations


def _join(lake_root: str, *parts: str) -> str:
    return "/".join([lake_root.rstrip("/"), *parts])


def bronze_path(lake_root: str, topic: str) -> str:
    """`<lake_root>/bronze/<topic>` (partitioned `dt=YYYY-MM-DD/batch_id=N/`)."""
    return _join(lake_root, "bronze", topic)


def quarantine_path(lake_root: str, topic: str) -> str:
    """`<lake_root>/quarantine/<topic>`: malformed envelopes with the reason."""
    return _join(lake_root, "quarantine", topic)


def checkpoint_path(lake_root: str, topic: str) -> str:
    """`<lake_root>/_checkpoints/bronze_<topic>`: the streaming query's offsets and commits."""
    return _join(lake_root, "_checkpoints", f"bronze_{topic}")
