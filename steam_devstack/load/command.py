"""`steam-platform load`: a load run against the stack `stack up` started (never starts one itself).

The platform's resources are built as a run builds them for the local environment
(`build_resources`, credentials as `EnvVar`s from the stack's env file), so the load uses the same
Kafka durability (RF 3 / min ISR 2 on three brokers), S3, Spark settings and Elasticsearch client
as the pipeline.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import dagster as dg
from rich.console import Console

from steam_devstack.health import StackError
from steam_devstack.load.memory import MIB
from steam_devstack.load.plan import LoadPlan, new_run_id
from steam_devstack.load.report import print_report, write_json
from steam_devstack.load.run import run_load
from steam_devstack.paths import default_state_dir
from steam_devstack.stack import LocalStack
from steam_platform.core.settings import Environment
from steam_platform.resources.wiring import build_resources

#: The servers a load goes through.
NEEDED = ("kafka", "s3", "elasticsearch")


def stack_problem(state_dir: Path) -> str | None:
    """Why the load cannot run against the stack in `state_dir` (None: its Kafka, S3 and
    Elasticsearch are up). A folder without a stack is left as it is."""
    if not (state_dir / "stack.json").exists():
        return f"no stack in {state_dir}: run `steam-platform stack up` first"
    stack = LocalStack(state_dir)
    rows = {row.name: row for row in stack.status()}
    down = [name for name in NEEDED if name not in rows or not rows[name].healthy]
    if down:
        return (
            f"the stack in {stack.state_dir} is not up ({', '.join(down)} not running or not answering): "
            "run `steam-platform stack up` first"
        )
    return None


def load_main(
    plan: LoadPlan, state_dir: Path | None, json_path: Path | None, keep: bool, overhead_mib: int
) -> int:
    """Run `plan` against the running stack in `state_dir`; 0 when nothing was lost or doubled, no
    server died and every JVM stayed within its cap, else 1."""
    console = Console()
    folder = (state_dir or default_state_dir()).resolve()
    problem = stack_problem(folder)
    if problem:
        Console(stderr=True).print(f"[red]load:[/] {problem}")
        return 1
    stack = LocalStack(folder)
    os.environ["STEAM_STACK_DIR"] = str(stack.state_dir)  # its env file backs the local settings
    for key, value in stack.endpoints().items():
        os.environ.setdefault(key, value)
    wanted = {
        k: v
        for k, v in build_resources(Environment.LOCAL).items()
        if k in ("kafka", "s3", "elasticsearch", "pyspark")
    }
    with contextlib.ExitStack() as cleanup:
        built = cleanup.enter_context(dg.build_resources(wanted))
        result = run_load(
            plan,
            stack=stack,
            kafka=built.kafka,
            s3=built.s3,
            spark=built.pyspark.spark_session,
            elasticsearch=built.elasticsearch,
            console=console,
            keep=keep,
            overhead_bytes=overhead_mib * MIB,
        )
    print_report(result, console)
    if json_path is not None:
        write_json(result, json_path)
        console.print(f"figures written to {json_path}")
    return result.exit_code


def new_plan(events: int, apps: int, rate: float | None, bronze_batch: int) -> LoadPlan:
    """The CLI's plan: a fresh run id, the given size and pace."""
    try:
        return LoadPlan(new_run_id(), events=events, apps=apps, rate=rate, bronze_batch=bronze_batch)
    except ValueError as exc:
        raise StackError(str(exc)) from exc
