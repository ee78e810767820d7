"""Progress of a bronze run streamed to Dagster when Dagster Pipes launched it; otherwise nothing.

`streaming/` stays free of Dagster: only the lightweight `dagster-pipes` package is used, and only
when it is installed and the process was started by a Pipes client (its bootstrap variables are
set). Then every landed micro-batch becomes a log line in the Dagster run (rows, quarantined rows,
Kafka offsets) and the end of the run (stop after `--timeout-s`) becomes a materialization of the
bronze asset named in the Pipes extras (`asset_key`), with the run's totals as metadata. A job
started by hand or by a scheduler behaves exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dagster_pipes import PipesContext

    from streaming.bronze_stats import BatchStats, BronzeStats

#: Pipes extra naming the asset the run materialises (e.g. `bronze_player_counts`).
EXTRA_ASSET_KEY = "asset_key"


class PipesProgress:
    """Reports batches as Dagster log lines and the finished run as a materialization."""

    def __init__(self, pipes: PipesContext) -> None:
        self._pipes = pipes

    def batch_landed(self, topic: str, batch_id: int, stats: BatchStats) -> None:
        """One log line per micro-batch: rows landed and quarantined, offsets per Kafka partition."""
        offsets = ", ".join(f"p{p}: {lo}..{hi} ({n})" for p, (lo, hi, n) in sorted(stats.offsets.items()))
        self._pipes.log.info(
            f"{topic} batch {batch_id}: landed {stats.rows} rows, quarantined {stats.quarantined}; "
            f"offsets [{offsets or 'none'}]"
        )

    def finished(self, stats: BronzeStats, *, path: str, interval: str | None) -> None:
        """The run's totals as the materialization of the asset named in the Pipes extras."""
        metadata: dict[str, Any] = {
            "rows_landed": stats.rows_landed,
            "rows_quarantined": stats.rows_quarantined,
            "records_read": stats.records_read,
            "offset_span": stats.offset_span,
            "batches": len(stats.batches),
            "kafka_offsets": {
                "raw_value": {str(p): o for p, o in stats.offsets.items()},
                "type": "json",
            },
            "files_written": stats.files.files,
            "bytes_written": stats.files.bytes,
            "duration_s": stats.duration_s,
            "envelope_parser": stats.envelope_parser,
            "path": path,
            "trigger": f"processingTime={interval}" if interval else "availableNow",
        }
        asset_key = self._pipes.extras.get(EXTRA_ASSET_KEY)
        self._pipes.log.info(
            f"{stats.topic}: stopping after {len(stats.batches)} batch(es), "
            f"{stats.rows_landed} rows landed, {stats.rows_quarantined} quarantined"
        )
        if asset_key:
            self._pipes.report_asset_materialization(metadata=metadata, asset_key=str(asset_key))
        else:
            self._pipes.report_custom_message({"bronze_run": metadata})


@contextmanager
def pipes_progress() -> Iterator[PipesProgress | None]:
    """A `PipesProgress` inside an open Pipes session when launched by Dagster Pipes, else None.

    On an exception the session is closed with it, so the Dagster run shows the job's own error.
    """
    try:
        from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes
    except ImportError:  # dagster-pipes is optional for the job
        yield None
        return
    if not PipesEnvVarParamsLoader().is_dagster_pipes_process():
        yield None
        return
    with open_dagster_pipes() as pipes:
        yield PipesProgress(pipes)
