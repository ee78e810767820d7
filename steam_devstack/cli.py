"""`steam-platform` command line: the local stack, the simulator and the end-to-end main run.

Typer builds the CLI (argument parsing, help, completion) so none of that is hand-written.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from steam_devstack.health import StackError
from steam_devstack.history.command import history
from steam_devstack.services.kafka_tls import KafkaSecurity
from steam_devstack.stack import LocalStack
from steam_platform.core.redaction import mask_settings, redact
from steam_simulator.command import simulator

app = typer.Typer(help="Steam data platform: local stack, simulator, pipeline.", no_args_is_help=True)
stack_app = typer.Typer(help="Local stack of real servers (no Docker).", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.command("simulator")(simulator)
app.command("history")(history)

StateDir = Annotated[
    Path | None, typer.Option("--state-dir", help="Stack state folder (default .stack/ or $STEAM_STACK_DIR).")
]
Only = Annotated[str | None, typer.Option("--only", help="Comma-separated services (default: all).")]
Security = Annotated[
    KafkaSecurity | None,
    typer.Option(
        "--kafka-security",
        help="Kafka client listener: plaintext (default) or sasl_ssl (SCRAM-SHA-512 over TLS, "
        "throwaway CA); kept for later calls, changed only after `stack down`.",
    ),
]


def _only(value: str | None) -> list[str] | None:
    return [s.strip() for s in value.split(",") if s.strip()] if value else None


def _shown(env: dict[str, str]) -> dict[str, str]:
    """The stack environment as printed: every secret (`*_KEY`, `*_PASSWORD`, `*_SECRET*`, `*_TOKEN`)
    masked as `***`, and the connector jars summarised (dozens of paths: say how many and where)."""
    shown = mask_settings(env)
    jars = shown.get("STEAM_SPARK_JARS", "").split(":")
    if jars[0]:
        shown["STEAM_SPARK_JARS"] = f"<{len(jars)} jars in {Path(jars[0]).parent}>"
    return shown


@stack_app.command("install")
def stack_install(only: Only = None) -> None:
    """Fetch or build every server's artifacts into the cache (idempotent; no server starts)."""
    try:
        LocalStack(None, only=_only(only)).install()
    except StackError as exc:
        typer.echo(f"stack install failed: {redact(str(exc))}", err=True)
        raise typer.Exit(1) from exc


@stack_app.command("up")
def stack_up(
    brokers: Annotated[int | None, typer.Option(help="Kafka nodes: 1 (default) or 3.")] = None,
    only: Only = None,
    state_dir: StateDir = None,
    kafka_security: Security = None,
    spark_cluster: Annotated[
        bool | None,
        typer.Option(
            "--spark-cluster/--no-spark-cluster",
            help="Also run a Spark standalone master + 2 workers (SPARK_MASTER); kept for later calls.",
        ),
    ] = None,
    spark_connect: Annotated[
        bool | None,
        typer.Option(
            "--spark-connect/--no-spark-connect",
            help="Run the supervised Spark Connect server that Dagster runs attach to "
            "(STEAM_SPARK_REMOTE; on unless turned off); kept for later calls.",
        ),
    ] = None,
    monitoring: Annotated[
        bool | None,
        typer.Option(
            "--monitoring/--no-monitoring",
            help="Also run Prometheus, Alertmanager (alerts to STEAM_ALERT_WEBHOOK_URL) and the platform's "
            "metrics exporter (PROMETHEUS_URL, ALERTMANAGER_URL); kept for later calls.",
        ),
    ] = None,
) -> None:
    """Install (cached) and start every server; print where each one listens."""
    try:
        stack = LocalStack(
            state_dir,
            brokers=brokers,
            only=_only(only),
            spark_cluster=spark_cluster,
            kafka_security=kafka_security,
            monitoring=monitoring,
            spark_connect=spark_connect,
        )
        env = stack.up()
    except StackError as exc:
        typer.echo(f"stack up failed: {redact(str(exc))}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"stack is up; client environment in {stack.env_file}:")
    for key, value in sorted(_shown(env).items()):
        typer.echo(f"  {key}={value}")


@stack_app.command("down")
def stack_down(
    purge: Annotated[bool, typer.Option(help="Also delete the servers' data.")] = False,
    state_dir: StateDir = None,
) -> None:
    """Stop exactly the processes `stack up` started (by pid file and process group)."""
    stopped = LocalStack(state_dir).down(purge=purge)
    typer.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@stack_app.command("status")
def stack_status(state_dir: StateDir = None) -> None:
    """Show each server: running, healthy, pids, memory (RSS) and endpoints. Exit 1 if any is down."""
    rows = LocalStack(state_dir).status()
    typer.echo(f"{'service':<14}{'state':<10}{'rss MB':>8}  pids / endpoints")
    for row in rows:
        if row.healthy:
            state = "healthy" if row.pids else "ready"  # no process: artifacts only (Spark's jars)
        else:
            state = "running" if row.running else "stopped"
        typer.echo(f"{row.name:<14}{state:<10}{row.rss_mb:>8.0f}  {row.pids} {_shown(row.endpoints)}")
    if not all(r.healthy for r in rows):
        raise typer.Exit(1)


@stack_app.command("env")
def stack_env(state_dir: StateDir = None) -> None:
    """Print the `export` lines that point clients at the stack (for `eval $(...)`)."""
    stack = LocalStack(state_dir)
    typer.echo(stack.env_file.read_text() if stack.env_file.exists() else "", nl=False)


@app.command("run")
def run_pipeline(
    state_dir: StateDir = None,
    brokers: Annotated[int | None, typer.Option(help="Kafka nodes: 1 (default) or 3.")] = None,
    kafka_security: Security = None,
) -> None:
    """The main job: bring the stack up and materialise the whole pipeline end to end."""
    from steam_devstack.main_run import run_main

    sys.exit(run_main(state_dir, brokers=brokers, kafka_security=kafka_security))


@app.command("load")
def load(
    events: Annotated[
        int, typer.Option(help="Events to produce (player counts, 1 in 100 a news post).")
    ] = 1_000_000,
    apps: Annotated[
        int, typer.Option(help="Apps the events are keyed over (polled every 10 minutes).")
    ] = 1000,
    rate: Annotated[float | None, typer.Option(help="Target events per second (default: flat out).")] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write every figure to this JSON file.")
    ] = None,
    state_dir: StateDir = None,
    keep: Annotated[bool, typer.Option(help="Keep the run's topics, lake folder and indices.")] = False,
    bronze_batch: Annotated[int, typer.Option(help="Kafka records per bronze micro-batch.")] = 500_000,
    jvm_overhead_mb: Annotated[
        int,
        typer.Option(help="A JVM's allowance beyond heap + direct memory before it counts as over its cap."),
    ] = 384,
) -> None:
    """Load the running stack: N events into Kafka, followed through bronze, warehouse, marts and
    Elasticsearch. Exit 1 on any lost or doubled event, a dead server or a JVM over its cap."""
    from steam_devstack.load.command import load_main, new_plan

    try:
        plan = new_plan(events, apps, rate, bronze_batch)
    except StackError as exc:
        typer.echo(f"load: {exc}", err=True)
        raise typer.Exit(2) from exc
    sys.exit(load_main(plan, state_dir, json_path, keep, jvm_overhead_mb))


@app.command("dev")
def dev(
    host: Annotated[
        str, typer.Option(help="Interface the webserver and the code server bind.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Webserver (UI) port.")] = 3000,
    code_server_port: Annotated[int, typer.Option(help="Port of the supervised code server.")] = 4000,
    state_dir: StateDir = None,
) -> None:
    """`dagster dev` (webserver + daemon) on a code server that is restarted when it dies (`make dev`)."""
    from steam_devstack.dagster_dev import run_dev
    from steam_devstack.paths import default_state_dir

    logging.basicConfig(level=logging.INFO, format="%(asctime)s - %(name)s - %(levelname)s - %(message)s")
    logs = (state_dir or default_state_dir()) / "logs"
    sys.exit(run_dev(host=host, port=port, code_server_port=code_server_port, log_dir=logs))


if __name__ == "__main__":
    app()
