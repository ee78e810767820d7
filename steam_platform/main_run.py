"""The README's main command: stack up, then materialise the pipeline end to end, recorded in the
same Dagster instance `make dev` shows (Postgres storage from `deploy/dagster.yaml`)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from steam_platform.localstack.health import StackError
from steam_platform.localstack.paths import REPO_ROOT
from steam_platform.localstack.stack import LocalStack


def prepare_dagster_home(stack: LocalStack) -> Path:
    """A DAGSTER_HOME inside the stack's state folder, using the repo's instance config."""
    home = stack.state_dir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    config = REPO_ROOT / "deploy" / "dagster.yaml"
    if config.exists():
        shutil.copyfile(config, home / "dagster.yaml")
    return home


def run_main(state_dir: Path | None = None, brokers: int | None = None) -> int:
    """Bring the stack up and materialise every asset; returns a process exit code."""
    started = time.monotonic()
    try:
        stack = LocalStack(state_dir, brokers=brokers)
        env = stack.up()
    except StackError as exc:
        print(f"stack up failed: {exc}", file=sys.stderr)
        return 1
    os.environ.update(env)
    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(stack))

    import dagster as dg

    from steam_platform.definitions import defs

    with dg.DagsterInstance.get() as instance:
        job = defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    materialized = [
        e.asset_key.to_user_string()
        for e in result.all_events
        if e.is_step_materialization and e.asset_key is not None
    ]
    print(
        f"\nrun {result.run_id}: {'SUCCESS' if result.success else 'FAILED'} "
        f"in {time.monotonic() - started:.0f}s; materialised: {', '.join(materialized) or 'nothing'}"
    )
    print(f"Dagster UI: `make dev` then http://127.0.0.1:3000 (DAGSTER_HOME={os.environ['DAGSTER_HOME']})")
    return 0 if result.success else 1
