"""Peak memory of every server and Spark process during a load, each JVM against its cap, dead servers.

A background thread samples, every `interval` seconds, the resident memory (RSS, from psutil via
`steam_devstack.process`) of:

- each server process of the stack (`kafka-1`..`kafka-3`, `s3`, `elasticsearch`, `postgres`, ...;
  a server's whole process tree, as `stack status` counts it), and each JVM in it on its own;
- this process (`load-python`: the generator, the producer and Spark's Python driver) and the Spark
  processes it started: the driver JVM (in `local[N]` also the executors) and PySpark's Python
  workers. A standalone cluster's executors are children of its workers, so they
  count with the `spark-cluster` server.

A JVM's configured cap is read from its own command line: its heap (`-Xmx`), plus its direct-memory
limit (`-XX:MaxDirectMemorySize`, which defaults to the heap size), plus a native allowance for
metaspace, code cache, thread stacks and GC structures (`overhead_bytes`, default 384 MiB: Spark's
own minimum memory overhead). A JVM whose peak RSS passes that did something its configuration
does not allow for, the way the retrospective's cluster got OOM-killed.

A server whose process is gone (or replaced) at a sample died during the load: the OOM killer's
work, or a crash; either fails the run.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType

import psutil

from steam_devstack.process import ProcInfo, descendants, process_table, service_pids
from steam_devstack.stack import LocalStack

MIB = 2**20
#: What a JVM may use besides heap and direct buffers (Spark's minimum `memoryOverhead`).
DEFAULT_OVERHEAD_BYTES = 384 * MIB
#: Spark's processes among this process's children, by what their command line runs.
SPARK_PROCESSES = {
    "spark-driver": "org.apache.spark.deploy.SparkSubmit",
    "spark-python-workers": "-m pyspark.",  # pyspark.daemon and the workers it forks
}
_SIZE = re.compile(r"^(\d+)([kKmMgGtT]?)$")
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_size(text: str) -> int:
    """A JVM size (`512m`, `1g`, `262144k`, bytes) in bytes."""
    match = _SIZE.match(text.strip())
    if match is None:
        raise ValueError(f"not a JVM size: {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


@dataclass(frozen=True)
class JvmLimits:
    """A JVM's configured memory limits, from its command line (the last flag wins, as in Java)."""

    heap: int
    direct: int | None = None

    def cap(self, overhead_bytes: int = DEFAULT_OVERHEAD_BYTES) -> int:
        """Heap + direct memory limit (default: the heap) + the native allowance."""
        return self.heap + (self.heap if self.direct is None else self.direct) + overhead_bytes


def jvm_limits(cmdline: list[str]) -> JvmLimits | None:
    """The limits of a `java` command line with `-Xmx`; None for any other process."""
    if not cmdline or os.path.basename(cmdline[0]) != "java":
        return None
    heap = direct = None
    for arg in cmdline:
        if arg.startswith("-Xmx"):
            heap = parse_size(arg[4:])
        elif arg.startswith("-XX:MaxDirectMemorySize="):
            direct = parse_size(arg.split("=", 1)[1])
    return JvmLimits(heap, direct) if heap is not None else None


@dataclass
class JvmPeak:
    """One JVM's peak RSS and its limits."""

    label: str
    pid: int
    limits: JvmLimits
    peak_rss: int = 0

    def over_cap(self, overhead_bytes: int = DEFAULT_OVERHEAD_BYTES) -> bool:
        return self.peak_rss > self.limits.cap(overhead_bytes)


@dataclass
class MemoryReport:
    """Peaks per server and Spark process group, per JVM, and the servers that died."""

    peak_rss: dict[str, int] = field(default_factory=dict)
    jvms: dict[tuple[str, int], JvmPeak] = field(default_factory=dict)
    died: list[str] = field(default_factory=list)
    samples: int = 0

    def over_cap(self, overhead_bytes: int = DEFAULT_OVERHEAD_BYTES) -> list[JvmPeak]:
        return [j for j in self.jvms.values() if j.over_cap(overhead_bytes)]

    def as_dict(self, overhead_bytes: int = DEFAULT_OVERHEAD_BYTES) -> dict[str, object]:
        return {
            "samples": self.samples,
            "peak_rss_mib": {k: round(v / MIB, 1) for k, v in sorted(self.peak_rss.items())},
            "jvms": [
                {
                    "process": j.label,
                    "pid": j.pid,
                    "peak_rss_mib": round(j.peak_rss / MIB, 1),
                    "heap_mib": round(j.limits.heap / MIB),
                    "cap_mib": round(j.limits.cap(overhead_bytes) / MIB),
                    "within_cap": not j.over_cap(overhead_bytes),
                }
                for j in sorted(self.jvms.values(), key=lambda j: (j.label, j.pid))
            ],
            "servers_died": self.died,
        }


def stack_servers(stack: LocalStack) -> dict[str, int]:
    """Label -> root pid of every running server process of the stack (`kafka-2`, `elasticsearch`)."""
    servers = {}
    for svc in stack.reported_services():
        for proc in svc.processes():
            pid = proc.pid()
            if pid is not None:
                servers[proc.name] = pid
    return servers


class MemoryWatch:
    """Samples peaks in a background thread while the `with` block runs (and once on entry and exit)."""

    def __init__(
        self,
        servers: Mapping[str, int],
        interval: float = 0.5,
        own_pid: int | None = None,
        cmdline: Callable[[int], list[str]] | None = None,
    ) -> None:
        self.servers = dict(servers)
        self._read_cmdline = cmdline or _psutil_cmdline
        self.interval = interval
        self.own_pid = own_pid or os.getpid()
        self.report = MemoryReport()
        self._started: dict[str, int] = {}
        self._cmdlines: dict[tuple[int, int], list[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="load-memory", daemon=True)

    def __enter__(self) -> MemoryWatch:
        table = process_table()
        self._started = {label: table[pid].start_ticks for label, pid in self.servers.items() if pid in table}
        self.sample(table)
        self._thread.start()
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.sample()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(Exception):  # a sample lost to a racing exit is not an error
                self.sample()

    def sample(self, table: Mapping[int, ProcInfo] | None = None) -> None:
        """One sample: RSS of every watched process now; peaks and deaths updated."""
        table = process_table() if table is None else table
        claimed: set[int] = set()
        for label, root in self.servers.items():
            info = table.get(root)
            if info is None or not info.alive or info.start_ticks != self._started.get(label):
                if label not in self.report.died:
                    self.report.died.append(label)
                continue
            pids = service_pids(root, table)
            claimed |= pids
            self._peak(label, pids, table)
        mine = [p for p in descendants([self.own_pid], table) - claimed - {self.own_pid} if table[p].alive]
        if self.own_pid in table:
            self._peak("load-python", {self.own_pid}, table)  # this process: Spark's Python driver too
        for label, needle in SPARK_PROCESSES.items():
            matched = {p for p in mine if needle in " ".join(self._cmdline(p, table))}
            self._peak(label, matched, table)
            mine = [p for p in mine if p not in matched]
        self.report.samples += 1

    def _peak(self, label: str, pids: set[int], table: Mapping[int, ProcInfo]) -> None:
        if not pids:
            return
        total = sum(table[p].rss_bytes for p in pids)
        self.report.peak_rss[label] = max(self.report.peak_rss.get(label, 0), total)
        for pid in pids:
            limits = jvm_limits(self._cmdline(pid, table))
            if limits is None:
                continue
            jvm = self.report.jvms.setdefault((label, pid), JvmPeak(label, pid, limits))
            jvm.peak_rss = max(jvm.peak_rss, table[pid].rss_bytes)

    def _cmdline(self, pid: int, table: Mapping[int, ProcInfo]) -> list[str]:
        key = (pid, table[pid].start_ticks)
        if key not in self._cmdlines:
            try:
                self._cmdlines[key] = self._read_cmdline(pid)
            except psutil.Error:
                return []
        return self._cmdlines[key]


def _psutil_cmdline(pid: int) -> list[str]:
    return list(psutil.Process(pid).cmdline())


@contextlib.contextmanager
def watching(stack: LocalStack, interval: float = 0.5) -> Iterator[MemoryReport]:
    """Watch the stack's servers and this process's Spark while the block runs."""
    with MemoryWatch(stack_servers(stack), interval) as watch:
        yield watch.report
