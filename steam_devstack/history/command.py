"""`steam-platform history`: a year (or any span) of history into the running local stack.

    steam-platform history --days 365 --apps 1000 [--end-date 2026-12-04] [--seed 7]
        [--state-dir DIR] [--build-layers]

A progress bar counts days (rich, which Typer ships); finished days are skipped, so running the
same command again after an interruption resumes it. With `--build-layers` the platform's own
assets then land the Kafka part and build warehouse, marts and search over the range.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from steam_devstack.history.plan import DEFAULT_SEED, HistoryPlan
from steam_devstack.stack import LocalStack
from steam_platform.core.redaction import redact

if TYPE_CHECKING:  # the generator and Dagster load only when the command runs (the CLI starts fast)
    from steam_devstack.history.layers import LayerRun
    from steam_devstack.history.run import HistoryTargets


def _targets() -> HistoryTargets:
    """The stack's lake and Kafka, credentials resolved from its env file (never printed)."""
    from steam_devstack.history.run import HistoryTargets
    from steam_platform.core.settings import Environment
    from steam_platform.resources.wiring import build_resources

    resources = build_resources(Environment.LOCAL)
    s3 = resources["s3"].process_config_and_initialize()
    kafka = resources["kafka"].process_config_and_initialize()
    return HistoryTargets(s3.filesystem(), s3.lake_path(), kafka)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )


def _build(stack: LocalStack, plan: HistoryPlan) -> bool:
    import dagster as dg

    from steam_devstack.history.layers import build_layers
    from steam_devstack.main_run import prepare_dagster_home
    from steam_platform.core.settings import read_env_file

    # As `steam-platform run`: the instance (deploy/dagster.yaml) and the runs' resources read the
    # stack's servers from the environment; what the caller set wins.
    for key, value in read_env_file(stack.env_file).items():
        os.environ.setdefault(key, value)
    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(stack))
    from steam_platform.definitions import defs

    def report(run: LayerRun) -> None:
        if run.skipped:
            typer.echo(f"  {run.label}: already built by this range's earlier run, skipped")
            return
        per_day = f", {run.seconds / run.days:.1f}s/day" if run.days > 1 else ""
        outcome = "ok" if run.success else "FAILED"
        typer.echo(f"  {run.label}: {outcome} in {run.seconds:.0f}s{per_day} (run {run.run_id})")

    typer.echo(f"building layers for {plan.first_day}..{plan.last_day}, a chunk of days per run:")
    with dg.DagsterInstance.get() as instance:
        runs = build_layers(defs, instance, plan.first_day, plan.last_day, on_run=report)
    return bool(runs) and all(r.success for r in runs)


def history(
    days: Annotated[
        int, typer.Option(min=1, help="Days of history, ending the day before --end-date.")
    ] = 365,
    apps: Annotated[
        int, typer.Option(min=1, help="Apps: the tracked ones first, then popular games.")
    ] = 1000,
    end_date: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="First day NOT covered (default: today, UTC)."),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Seed of the simulated world (same seed, same event ids).")
    ] = DEFAULT_SEED,
    state_dir: Annotated[
        Path | None,
        typer.Option("--state-dir", help="Stack state folder (default .stack/ or $STEAM_STACK_DIR)."),
    ] = None,
    build: Annotated[
        bool,
        typer.Option(
            "--build-layers",
            help="Then land the Kafka part and build warehouse, marts, search over the range.",
        ),
    ] = False,
) -> None:
    """Give the lake, warehouse, marts and search a history: player counts every poll slot, news,
    daily app details (resumable; see docs/history.md)."""
    plan = HistoryPlan(
        days=days, apps=apps, end_date=(end_date.date() if end_date else datetime.now(UTC).date()), seed=seed
    )
    stack = LocalStack(state_dir)
    if not stack.env_file.exists():
        typer.echo(f"no running stack in {stack.state_dir}: run `steam-platform stack up` first", err=True)
        raise typer.Exit(1)
    os.environ["STEAM_STACK_DIR"] = str(stack.state_dir)  # the settings read the stack's env file
    from steam_devstack.history.layers import PartitionsTooLate, require_partitions_from
    from steam_devstack.history.run import run_history

    if build:
        try:
            require_partitions_from(plan.first_day)  # fail before an hour of writing, not after
        except PartitionsTooLate as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from exc
    typer.echo(f"history {plan.first_day}..{plan.last_day}: {plan.apps} apps, seed {plan.seed}")
    try:
        targets = _targets()
        with _progress() as progress:
            task = progress.add_task("history", total=plan.days)

            def advance(day: date) -> None:
                progress.update(task, advance=1, description=f"history {day.isoformat()}")

            report = run_history(plan, targets, on_day=advance)
    except Exception as exc:  # an unreachable store or broker: say so without a stack trace of secrets
        typer.echo(f"history failed: {redact(str(exc))} (run it again to resume)", err=True)
        raise typer.Exit(1) from exc
    for line in report.lines():
        typer.echo(f"  {line}")
    if build and not _build(stack, plan):
        raise typer.Exit(1)
