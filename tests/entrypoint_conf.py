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


def printed_conf(entry_point_args: Sequence[str], env: Mapping[str, str], work: Path) -> dict[str, str]:
    """The conf `python -m steam_platform.spark_connect_server <args>` builds in `env` (with this PATH)."""
    printed = subprocess.run(
        [
            sys.executable,
            "-m",
            "steam_platform.spark_connect_server",
            *entry_point_args,
            "--work-dir",
            str(work),
            "--print-conf",
        ],
        env={**env, "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return dict(line.split(" ", 1) for line in printed.splitlines())
