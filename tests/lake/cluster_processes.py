"""What a Spark cluster application's processes show to anyone on the machine (tests' helper).

The cluster tests look at every process of the application while it runs (the standalone
cluster's daemons, executors, their Python workers, the driver) for a secret on its command line
or in its environment, and for sockets listening beyond loopback.
"""

from __future__ import annotations

from dataclasses import dataclass

import psutil

from steam_devstack.process import process_tree
from steam_devstack.services.spark_cluster import SparkClusterService

AWS_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
LOOPBACK = {"127.0.0.1", "::1"}


@dataclass(frozen=True)
class Seen:
    """One live process of the cluster application, as the kernel shows it to anyone on the machine."""

    pid: int
    role: str  # master, worker-1, executor, python (worker of an executor), driver, ...
    program: str  # argv[0]
    secret_in_cmdline: bool
    secret_in_environ: bool
    aws_vars: tuple[str, ...]
    listening: tuple[str, ...]  # addresses of its listening TCP sockets


def _role(proc: psutil.Process, default: str) -> str:
    cmdline = " ".join(proc.cmdline())
    if "CoarseGrainedExecutorBackend" in cmdline:
        return "executor"
    if "pyspark.daemon" in cmdline or "pyspark.worker" in cmdline:
        return "python"
    return default


def inspect_processes(cluster: SparkClusterService, roots: dict[int, str], secret: str) -> list[Seen]:
    """The cluster's processes and everything below them (executors, Python workers), plus `roots`."""
    labels = ["master", *(f"worker-{i}" for i in range(1, len(cluster.processes())))]
    tops: dict[int | None, str] = {
        p.pid(): label for p, label in zip(cluster.processes(), labels, strict=True)
    }
    seen: list[Seen] = []
    for root, label in [*tops.items(), *roots.items()]:
        assert root is not None, f"{label} is not running"
        for proc in process_tree(root):
            try:
                with proc.oneshot():
                    argv = proc.cmdline()
                    cmdline = " ".join(argv)
                    environ = proc.environ()
                    sockets = proc.net_connections(kind="inet")
                    listening = tuple(
                        sorted(
                            {
                                c.laddr.ip.removeprefix("::ffff:")
                                for c in sockets
                                if c.status == psutil.CONN_LISTEN
                            }
                        )
                    )
                    role = label if proc.pid == root else _role(proc, f"{label} child")
            except psutil.NoSuchProcess:
                continue
            seen.append(
                Seen(
                    pid=proc.pid,
                    role=role,
                    program=argv[0] if argv else "",
                    secret_in_cmdline=secret in cmdline,
                    secret_in_environ=any(secret in v for v in environ.values()),
                    aws_vars=tuple(sorted(k for k in environ if k in AWS_KEYS)),
                    listening=listening,
                )
            )
    return seen
