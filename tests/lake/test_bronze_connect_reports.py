"""The batch reports a Spark Connect worker leaves for its run (`streaming/bronze_connect.py`).

A report carries one batch's tallies and the query's continuity so far; the run reads only its own
lease epoch's reports, each once, in batch order, and removes every report when it is done.
"""

from __future__ import annotations

from pathlib import Path

from streaming.bronze_connect import BatchReport, BatchReports, report_name, write_report
from streaming.bronze_stats import BatchStats
from streaming.lease_stores import LocalLeaseStore


def _report(batch_id: int, rows: int, problems: list[str] | None = None) -> BatchReport:
    stats = BatchStats(rows, 1, {0: (10, 10 + rows + 1, rows + 1), 2: (0, 0, 0)}, {"2026-10-01"})
    return BatchReport(batch_id, stats, problems or [], continuity_known=True)


def test_a_report_reads_back_as_written() -> None:
    report = _report(3, 5, ["partition 0 starts at 10, the last landing stopped at 9"])
    assert BatchReport.from_bytes(report.to_bytes()) == report


def test_the_run_reads_its_own_epochs_reports_once_in_order_then_removes_all(tmp_path: Path) -> None:
    store = LocalLeaseStore(tmp_path)
    write_report(store, 6, _report(0, 1))  # an earlier run's, left behind
    write_report(store, 7, _report(12, 4))
    write_report(store, 7, _report(11, 3))
    reports = BatchReports(store, 7)
    assert [r.batch_id for r in reports.new()] == [11, 12]
    write_report(store, 7, _report(13, 5, ["a gap"]))
    write_report(store, 7, _report(12, 9))  # a batch written again (a retried attempt): read once
    assert [r.batch_id for r in reports.new()] == [13]
    last = reports.last()
    assert last is not None and (last.batch_id, last.continuity_problems) == (13, ["a gap"])
    store.create("epoch-000000000007.json", b"{}")
    reports.remove_all()  # the lease's own objects stay
    assert [n for n in store.names() if not n.startswith(".")] == ["epoch-000000000007.json"]
    assert report_name(7, 12) == "report-000000000007-000000000012.json"
