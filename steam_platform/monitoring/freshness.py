"""Freshness lag per layer: how old each asset's newest materialisation is, next to the fail window
of the asset's own `FreshnessPolicy` (`steam_platform/core/cadence.py`).

Both are exported, so the alert rule (`SteamLayerStale`) compares them and the windows stay declared
once, on the assets. The layer is the asset's group (`ingest`, `lake`, `warehouse`, `marts`,
`search`). An asset never materialised has no lag series: a new deployment is not "stale".
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import dagster as dg
from dagster import DagsterInstance
from prometheus_client.core import GaugeMetricFamily


@dataclass(frozen=True)
class FreshnessTarget:
    """One asset with a time-window freshness policy: its layer and how old its data may get."""

    key: dg.AssetKey
    layer: str
    fail_window_s: float


def freshness_targets(specs: Sequence[dg.AssetSpec]) -> list[FreshnessTarget]:
    """The assets whose freshness policy has a fail window (time-window policies)."""
    targets = []
    for spec in specs:
        window = getattr(spec.freshness_policy, "fail_window", None)
        if window is None:
            continue
        targets.append(
            FreshnessTarget(spec.key, spec.group_name or "default", window.to_timedelta().total_seconds())
        )
    return sorted(targets, key=lambda t: t.key.to_user_string())


def freshness_metrics(
    instance: DagsterInstance, targets: Sequence[FreshnessTarget], now: float | None = None
) -> Iterator[GaugeMetricFamily]:
    """`steam_asset_freshness_lag_seconds` and `steam_asset_freshness_fail_window_seconds`."""
    now = time.time() if now is None else now
    lag = GaugeMetricFamily(
        "steam_asset_freshness_lag_seconds",
        "Seconds since the asset's newest materialisation (any partition)",
        labels=["asset", "layer"],
    )
    window = GaugeMetricFamily(
        "steam_asset_freshness_fail_window_seconds",
        "The fail window of the asset's freshness policy: older data means the layer is stale",
        labels=["asset", "layer"],
    )
    records = {
        r.asset_entry.asset_key: r.asset_entry for r in instance.get_asset_records([t.key for t in targets])
    }
    for target in targets:
        labels = [target.key.to_user_string(), target.layer]
        window.add_metric(labels, target.fail_window_s)
        entry = records.get(target.key)
        newest = entry.last_materialization_record if entry is not None else None
        if newest is not None:
            lag.add_metric(labels, max(0.0, now - newest.timestamp))
    yield lag
    yield window
