"""What a bronze run landed: per micro-batch and per run (shared by the job and its Pipes reporting).

Its own module so that `streaming/bronze.py` (which runs the job) and `streaming/bronze_pipes.py`
(which reports its progress to Dagster) both depend on it instead of on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streaming.hadoop_fs import FileStats


@dataclass
class BatchStats:
    """What one micro-batch landed: rows, quarantined rows, offsets per Kafka partition."""

    rows: int = 0
    quarantined: int = 0
    #: partition -> (first offset, last offset + 1, records)
    offsets: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    #: The bronze `dt` partitions (observation days) the batch wrote rows to.
    days: set[str] = field(default_factory=set)


@dataclass
class BronzeStats:
    """What one run of the job landed (for Dagster metadata and the reconciliation check)."""

    topic: str
    rows_landed: int
    rows_quarantined: int
    batches: list[int]
    #: Kafka partition -> {"from": first offset read, "to": last offset + 1, "records": n}
    offsets: dict[int, dict[str, int]]
    files: FileStats
    duration_s: float
    #: The bronze `dt` partitions (observation days) the run wrote rows to, sorted.
    days: list[str] = field(default_factory=list)
    #: How the run failed to continue where bronze's earlier landings stopped (empty: it did).
    continuity_problems: list[str] = field(default_factory=list)
    #: Whether a record of earlier landings existed (`streaming/landed_offsets.py`); False for the
    #: first landing, or a lake from before the record: continuity was then not checked.
    continuity_known: bool = True
    #: Which parser read the envelopes: "jvm" (bronze's own, `deploy/local/spark/EnvelopeParse.java`)
    #: or "from_json" (Spark's, the slower fallback of a session without the parser's jar).
    envelope_parser: str = "jvm"

    @property
    def records_read(self) -> int:
        return sum(o["records"] for o in self.offsets.values())

    @property
    def offset_span(self) -> int:
        """Records the offsets say were read (to - from summed over partitions)."""
        return sum(o["to"] - o["from"] for o in self.offsets.values())


def stats_as_dict(stats: BronzeStats) -> dict[str, object]:
    """A JSON-friendly view of `stats` (what the script prints)."""
    return {
        "topic": stats.topic,
        "rows_landed": stats.rows_landed,
        "rows_quarantined": stats.rows_quarantined,
        "batches": stats.batches,
        "offsets": {str(k): v for k, v in stats.offsets.items()},
        "files_written": stats.files.files,
        "bytes_written": stats.files.bytes,
        "duration_s": stats.duration_s,
        "days": stats.days,
        "continuity_problems": stats.continuity_problems,
        "continuity_known": stats.continuity_known,
        "envelope_parser": stats.envelope_parser,
    }
