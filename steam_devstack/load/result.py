"""Everything one load run measured and found, and its verdict (what `--json` writes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from steam_devstack.load.accounting import Comparison, IdCheck, Spread
from steam_devstack.load.memory import DEFAULT_OVERHEAD_BYTES, MIB, MemoryReport
from steam_devstack.load.plan import LoadPlan
from steam_devstack.load.stages import StageResult


@dataclass
class LoadResult:
    """A load run's figures per stage, Kafka's spread, memory, and every check."""

    plan: LoadPlan
    brokers: int
    stages: list[StageResult] = field(default_factory=list)
    spreads: dict[str, Spread] = field(default_factory=dict)
    leaders: dict[str, dict[int, int]] = field(default_factory=dict)
    broker_bytes: dict[int, int] = field(default_factory=dict)
    memory: MemoryReport = field(default_factory=MemoryReport)
    id_checks: list[IdCheck] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    #: A stage that raised: the run stopped there.
    errors: list[str] = field(default_factory=list)
    overhead_bytes: int = DEFAULT_OVERHEAD_BYTES
    #: What the clean-up could not remove (topics, lake objects, indices).
    not_removed: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return sum(c.lost for c in self.id_checks) + sum(c.lost for c in self.comparisons)

    @property
    def doubled(self) -> int:
        return sum(c.doubled for c in self.id_checks) + sum(c.doubled for c in self.comparisons)

    @property
    def problems(self) -> list[str]:
        """Why the run failed (empty: nothing lost or doubled, no server died, every JVM in its cap)."""
        found = list(self.errors)
        for check in self.id_checks:
            if not check.ok:
                found.append(
                    f"{check.stage}: {check.lost} lost, {check.doubled} doubled of {check.expected:,} "
                    f"events ({check.rows:,} rows, {check.distinct:,} distinct ids"
                    f"{'' if check.ids_match else ', not the ids produced'})"
                )
        found += [
            f"{c.name}: expected {c.expected:,}, found {c.found:,}" for c in self.comparisons if not c.ok
        ]
        found += [
            f"server {label} died during the load (OOM-killed or crashed)" for label in self.memory.died
        ]
        found += [
            f"{j.label} (pid {j.pid}) peaked at {j.peak_rss / MIB:,.0f} MiB RSS, above its cap of "
            f"{j.limits.cap(self.overhead_bytes) / MIB:,.0f} MiB (heap {j.limits.heap / MIB:,.0f} MiB)"
            for j in self.memory.over_cap(self.overhead_bytes)
        ]
        return found

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        """The command's exit status: 0 when `ok`, else 1."""
        return 0 if self.ok else 1

    def as_dict(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "run_id": plan.run_id,
            "events": plan.events,
            "apps": plan.apps,
            "player_counts": plan.player_counts,
            "news": plan.news,
            "rate": plan.rate,
            "brokers": self.brokers,
            "partitions": plan.partitions,
            "days": [d.isoformat() for d in plan.days],
            "stages": {s.name: s.as_dict() for s in self.stages},
            "kafka": {
                "spread": {topic: s.as_dict() for topic, s in self.spreads.items()},
                "leaders_per_broker": {
                    t: {str(b): n for b, n in ls.items()} for t, ls in self.leaders.items()
                },
                "bytes_per_broker": {str(b): n for b, n in sorted(self.broker_bytes.items())},
            },
            "memory": self.memory.as_dict(self.overhead_bytes),
            "checks": {
                "events": {f"{c.stage}": c.as_dict() for c in self.id_checks},
                "figures": {c.name: {"expected": c.expected, "found": c.found} for c in self.comparisons},
            },
            "lost": self.lost,
            "doubled": self.doubled,
            "problems": self.problems,
            "not_removed": self.not_removed,
            "ok": self.ok,
        }
