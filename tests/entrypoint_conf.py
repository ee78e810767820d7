"""The Spark conf a Spark Connect server command line would start with, without starting it.

The local stack, the Kubernetes chart and compose all run `python -m steam_platform.spark_connect_server`;
their tests run each one's command line and environment through it with `--print-conf`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def run_entry_point(
    entry_point_args: Sequence[str], env: Mapping[str, str], work: Path
) -> subprocess.CompletedProcess[str]:
    """`python -m steam_platform.spark_connect_server <args> --print-conf` in `env` (with this PATH)."""
    return subprocess.run(
        [sys.executable, "-m", "steam_platform.spark_connect_server", *entry_point_args,
         "--work-dir", str(work), "--print-conf"],
        env={**env, "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip


def printed_conf(entry_point_args: Sequence[str], env: Mapping[str, str], work: Path) -> dict[str, str]:
    """The conf `python -m steam_platform.spark_connect_server <args>` builds in `env`."""
    done = run_entry_point(entry_point_args, env, work)
    done.check_returncode()
    return dict(line.split(" ", 1) for line in done.stdout.splitlines())
