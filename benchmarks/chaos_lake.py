"""What the chaos benchmark reads from the lake at the end: when snapshots were observed (poll
slots that produced data) and the gaps `mart_player_count_gaps` recorded.

Read with pyarrow on the stack's S3 (the platform's own `S3Resource`), once, after the drain.
"""

from __future__ import annotations

from typing import Any

import pyarrow.fs as pafs
import pyarrow.parquet as pq

GAPS_TABLE = "marts/mart_player_count_gaps"
FACT_TABLE = "warehouse/fact_player_counts"


def observed_slots(fs: pafs.FileSystem, lake: str, days: list[str], step_s: int) -> set[int]:
    """Starts (epoch seconds) of the poll slots in which any snapshot of `days` was observed."""
    slots: set[int] = set()
    for day in days:
        try:
            table = pq.read_table(f"{lake}/{FACT_TABLE}/dt={day}", filesystem=fs, columns=["observed_at"])
        except (FileNotFoundError, OSError):
            continue
        for value in table.column("observed_at").to_pylist():
            if value is not None:
                epoch = int(value.timestamp())
                slots.add(epoch - epoch % step_s)
    return slots


def recorded_gaps(fs: pafs.FileSystem, lake: str, days: list[str]) -> dict[str, Any]:
    """The (day, `HH:MM`) slots `mart_player_count_gaps` recorded as missed for any app, and its row
    count; `present` False when the table has none of `days` (not built, or not on this branch)."""
    slots: set[tuple[str, str]] = set()
    rows, present = 0, False
    for day in days:
        try:
            table = pq.read_table(
                f"{lake}/{GAPS_TABLE}/dt={day}", filesystem=fs, columns=["missing_slot_times"]
            )
        except (FileNotFoundError, OSError):
            continue
        present = True
        rows += table.num_rows
        for value in table.column("missing_slot_times").to_pylist():
            slots.update((day, hhmm.strip()) for hhmm in (value or "").split(",") if hhmm.strip())
    return {"present": present, "rows": rows, "slots": slots}
