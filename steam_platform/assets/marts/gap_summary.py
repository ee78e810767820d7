"""What the UI and the metrics exporter say about recorded player-count gaps.

`mart_player_count_gaps` (see `streaming/player_gaps.py` for what a gap is) writes its rows to the
lake; this module turns the rows a run wrote into what a person sees without opening the lake:
the materialisation's metadata (gap rows, missed polls, apps affected, and `gaps_by_hour` for the
exporter) and the non-blocking WARN check `no_player_count_gaps` with a per-app summary. A gap is
data, not a broken table, so the check never stops search from indexing the mart.

Plain Python over collected rows (a day holds at most apps x 24 rows), no Spark.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dagster as dg

CHECK_NO_GAPS = "no_player_count_gaps"
#: Materialisation metadata: {hour_start ISO-8601 UTC: {"apps": rows, "missed": missed polls}},
#: read by the metrics exporter (`steam_platform/monitoring/gaps.py`).
GAPS_BY_HOUR = "gaps_by_hour"
#: Apps listed by name in metadata and the check's table (the counts always cover every app).
APPS_SHOWN = 50
HOUR = "%Y-%m-%d %H:00"


@dataclass(frozen=True)
class GapRow:
    """One recorded (app, hour) with missed polls, as `mart_player_count_gaps` holds it."""

    appid: int
    app_name: str | None
    hour_start: datetime
    missing_slots: int
    missing_slot_times: str


@dataclass(frozen=True)
class AppGaps:
    """One app's gaps over the run's days."""

    appid: int
    app_name: str | None
    hours: int
    missed: int
    first_hour: datetime
    last_hour: datetime

    @property
    def label(self) -> str:
        return f"{self.app_name} ({self.appid})" if self.app_name else str(self.appid)


def per_app(rows: Iterable[GapRow]) -> list[AppGaps]:
    """Each app's hours with gaps and missed polls, most missed first."""
    grouped: dict[int, list[GapRow]] = {}
    for row in rows:
        grouped.setdefault(row.appid, []).append(row)
    apps = [
        AppGaps(
            appid,
            next((r.app_name for r in group if r.app_name), None),
            len(group),
            sum(r.missing_slots for r in group),
            min(r.hour_start for r in group),
            max(r.hour_start for r in group),
        )
        for appid, group in grouped.items()
    ]
    return sorted(apps, key=lambda a: (-a.missed, a.appid))


def by_hour(rows: Iterable[GapRow]) -> dict[str, dict[str, int]]:
    """{hour_start ISO: {"apps": rows, "missed": missed polls}}, hours in order."""
    hours: dict[str, dict[str, int]] = {}
    for row in sorted(rows, key=lambda r: r.hour_start):
        entry = hours.setdefault(row.hour_start.isoformat(), {"apps": 0, "missed": 0})
        entry["apps"] += 1
        entry["missed"] += row.missing_slots
    return hours


def _apps_table(apps: list[AppGaps]) -> str:
    lines = [
        "| app | hours with gaps | missed polls | first hour (UTC) | last hour (UTC) |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {a.label} | {a.hours} | {a.missed} | {a.first_hour:{HOUR}} | {a.last_hour:{HOUR}} |"
        for a in apps[:APPS_SHOWN]
    ]
    if len(apps) > APPS_SHOWN:
        lines.append(f"| ... {len(apps) - APPS_SHOWN} more apps | | | | |")
    return "\n".join(lines)


def materialization_metadata(rows: list[GapRow]) -> dict[str, Any]:
    """The gap figures of a run's days for the materialisation (shown in the UI's asset page)."""
    apps = per_app(rows)
    return {
        "gap_rows": len(rows),
        "missed_polls": sum(r.missing_slots for r in rows),
        "apps_affected": len(apps),
        "apps_with_gaps": ", ".join(a.label for a in apps[:APPS_SHOWN]) or "none",
        GAPS_BY_HOUR: dg.MetadataValue.json(by_hour(rows)),
    }


def check_result(rows: list[GapRow], days: list[str]) -> dg.AssetCheckResult:
    """`no_player_count_gaps`: fails (WARN) when a poll of the run's days was missed."""
    apps = per_app(rows)
    missed = sum(r.missing_slots for r in rows)
    where = days[0] if len(days) == 1 else f"{days[0]}..{days[-1]}"
    message = (
        f"{missed} missed polls in {len(rows)} (app, hour) rows of {len(apps)} apps, dt={where}"
        if rows
        else f"every closed poll slot has a snapshot of every app, dt={where}"
    )
    metadata: dict[str, Any] = {"gap_rows": len(rows), "missed_polls": missed, "apps_affected": len(apps)}
    if apps:
        metadata["per_app"] = dg.MetadataValue.md(_apps_table(apps))
    return dg.AssetCheckResult(
        check_name=CHECK_NO_GAPS,
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        description=message,
        metadata={"message": message, **metadata},
    )


def gap_hours(entry: Any) -> Mapping[str, Mapping[str, int]]:
    """`gaps_by_hour` of a materialisation's metadata entry ({} when absent or malformed)."""
    value = getattr(entry, "value", entry)
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, Mapping) else {}
