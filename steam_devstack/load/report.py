"""A load run's figures as tables on the console (rich) and as JSON (`--json FILE`)."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from steam_devstack.load.memory import MIB
from steam_devstack.load.result import LoadResult


def _stages(result: LoadResult) -> Table:
    table = Table(title="stages")
    for column in ("stage", "rows", "seconds", "rows/s", "MB", "MB/s"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for s in result.stages:
        table.add_row(
            s.name, f"{s.rows:,}", f"{s.seconds:,.1f}", f"{s.rows_per_s:,.0f}", f"{s.bytes / 1e6:,.1f}",
            f"{s.mb_per_s:,.2f}",
        )  # fmt: skip
    return table


def _kafka(result: LoadResult) -> Table:
    table = Table(
        title=f"kafka: {result.brokers} broker(s), {result.plan.partitions} partitions per topic "
        f"(load.{result.plan.run_id}.*)"
    )
    for column in ("topic", "records", "max/partition", "mean/partition", "max/mean", "leaders per broker"):
        table.add_column(column, justify="left" if column == "topic" else "right")
    for topic, s in result.spreads.items():
        leaders = ", ".join(f"{b}: {n}" for b, n in result.leaders.get(topic, {}).items())
        table.add_row(
            topic.rsplit(".", 1)[-1],
            f"{sum(s.per_partition.values()):,}",
            f"{s.max:,}",
            f"{s.mean:,.0f}",
            f"{s.ratio:.3f}",
            leaders,
        )
    return table


def _memory(result: LoadResult) -> Table:
    table = Table(
        title="peak RSS (servers: whole process tree; JVMs: each, against heap + direct + overhead)"
    )
    for column in ("process", "peak MiB", "heap MiB", "cap MiB", "within cap"):
        table.add_column(column, justify="left" if column == "process" else "right")
    for label, peak in sorted(result.memory.peak_rss.items()):
        table.add_row(label, f"{peak / MIB:,.0f}", "", "", "")
        for j in sorted((j for j in result.memory.jvms.values() if j.label == label), key=lambda j: j.pid):
            within = "yes" if not j.over_cap(result.overhead_bytes) else "[red]NO[/]"
            cap = j.limits.cap(result.overhead_bytes)
            table.add_row(
                f"  JVM pid {j.pid}",
                f"{j.peak_rss / MIB:,.0f}",
                f"{j.limits.heap / MIB:,.0f}",
                f"{cap / MIB:,.0f}",
                within,
            )
    return table


def print_report(result: LoadResult, console: Console) -> None:
    """Every figure of the run, then the verdict."""
    plan = result.plan
    console.print(
        f"\nload {plan.run_id}: {plan.events:,} events ({plan.player_counts:,} player counts, "
        f"{plan.news:,} news) "
        f"over {plan.apps:,} apps, {len(plan.days)} day(s) from {plan.days[0]}, "
        + (f"target {plan.rate:,.0f}/s" if plan.rate else "flat out")
    )
    console.print(_stages(result))
    console.print(_kafka(result))
    if result.broker_bytes:
        console.print(
            "bytes per broker (log segments of the run's topics): "
            + ", ".join(f"broker {b}: {n / 1e6:,.1f} MB" for b, n in sorted(result.broker_bytes.items()))
        )
    console.print(_memory(result))
    console.print(f"lost: {result.lost:,}, doubled: {result.doubled:,}")
    if result.ok:
        console.print(
            "[green]RESULT: every event exactly once in every stage; no server died; "
            "every JVM within its cap[/]"
        )
    else:
        for problem in result.problems:
            console.print(f"[red]FAILED:[/] {problem}")


def write_json(result: LoadResult, path: Path) -> None:
    """The same figures as JSON."""
    path.write_text(json.dumps(result.as_dict(), indent=2) + "\n")
