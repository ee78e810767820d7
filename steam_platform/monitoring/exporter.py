"""The collector Prometheus scrapes: every source read afresh on each scrape, each on its own.

A source that cannot be read (Kafka or Elasticsearch down, the instance storage unreachable) does
not fail the scrape: its series are left out and `steam_metrics_source_up{source}` is 0, with the
reason (credentials scrubbed) logged. Alert rules therefore see both "the lake is behind" and "the
lake's lag cannot be measured".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster import DagsterInstance
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from steam_platform.assets.operations.reask_targets import reask_targets
from steam_platform.core.redaction import redact
from steam_platform.core.settings import ReaskSettings
from steam_platform.monitoring.code_servers import CodeServer, code_server_metrics
from steam_platform.monitoring.dagster_services import daemon_metrics, storage_metrics
from steam_platform.monitoring.freshness import freshness_metrics, freshness_targets
from steam_platform.monitoring.gaps import gap_metrics
from steam_platform.monitoring.kafka_metrics import kafka_metrics
from steam_platform.monitoring.reask import reask_metrics
from steam_platform.monitoring.runs import run_metrics
from steam_platform.monitoring.service_metrics import budget_metrics, search_metrics

log = logging.getLogger(__name__)

Source = Callable[[], Iterable[Metric]]


@dataclass(eq=False)
class PlatformCollector(Collector):
    """Named sources of metric families, each read on every scrape."""

    sources: dict[str, Source] = field(default_factory=dict)

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "steam_metrics_source_up",
            "1 when the exporter could read the source on this scrape",
            labels=["source"],
        )
        for name, source in self.sources.items():
            try:
                families = list(source())
            except Exception as exc:  # any failure of one source must not hide the others
                log.warning("metrics source %s unreadable: %s", name, redact(f"{type(exc).__name__}: {exc}"))
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


def platform_sources(
    instance: DagsterInstance,
    defs: dg.Definitions,
    resources: dict[str, Any],
    run_lookback: timedelta,
    code_servers: Sequence[CodeServer] = (),
) -> dict[str, Source]:
    """The platform's sources: runs, freshness (from `defs`' policies), recorded player-count gaps,
    failed partitions asked again or given up, Dagster's daemon and storage, the workspace's code
    servers (`code_servers`, if any), Kafka, Steam budget, search."""
    targets = freshness_targets(defs.resolve_all_asset_specs())
    jobs = sorted(job.name for job in defs.resolve_all_job_defs())
    reaskable = reask_targets(defs.resolve_asset_graph())
    reask_settings = ReaskSettings.load()
    sources: dict[str, Source] = {
        "runs": lambda: run_metrics(instance, jobs, run_lookback),
        "freshness": lambda: freshness_metrics(instance, targets),
        "player_count_gaps": lambda: gap_metrics(instance),
        "reask": lambda: reask_metrics(instance, reaskable, reask_settings),
        "dagster_daemon": lambda: daemon_metrics(instance),
        "dagster_storage": lambda: storage_metrics(instance),
    }
    if code_servers:
        sources["code_servers"] = lambda: code_server_metrics(code_servers)
    if "kafka" in resources:
        sources["kafka"] = lambda: kafka_metrics(instance, resources["kafka"])
    if "steam" in resources:
        sources["steam_budget"] = lambda: budget_metrics(resources["steam"])
    if "elasticsearch" in resources:
        sources["elasticsearch"] = lambda: search_metrics(resources["elasticsearch"])
    return sources


def registry_for(sources: dict[str, Source]) -> CollectorRegistry:
    """A registry holding only the platform's collector (no process metrics of the exporter)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector(sources))
    return registry
