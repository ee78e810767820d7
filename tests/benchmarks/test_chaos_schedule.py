"""The chaos benchmark's fault schedule: every fault once, scaled outages, no overlap."""

from __future__ import annotations

import itertools

import pytest
from chaos_schedule import MIN_OUTAGE_S, ORDER, FaultKind, outage_s, plan, scale, steam_phases


def test_sixty_minutes_runs_the_reference_outages_in_order_without_overlap() -> None:
    faults = plan(60)
    assert [f.kind for f in faults] == list(ORDER)
    assert set(ORDER) == set(FaultKind)
    outages = {f.kind: f.outage_s for f in faults}
    assert outages[FaultKind.ELASTICSEARCH_STOP] == 300
    assert outages[FaultKind.S3_STOP] == 300
    assert outages[FaultKind.STEAM_503_THEN_429] == 900
    assert outages[FaultKind.BROKER_KILL] == 60
    assert outages[FaultKind.DAEMON_KILL] == 0
    for earlier, later in itertools.pairwise(faults):
        assert later.at_s > earlier.lifted_s
    assert faults[-1].lifted_s < 60 * 60


def test_a_short_window_scales_outages_down_but_not_below_the_floor() -> None:
    assert scale(12) == pytest.approx(0.2)
    assert scale(120) == 1.0
    assert outage_s(FaultKind.ELASTICSEARCH_STOP, 12) == 60
    assert outage_s(FaultKind.BROKER_KILL, 12) == MIN_OUTAGE_S  # 12 s scaled, floored
    assert outage_s(FaultKind.LAKE_WORKER_KILL, 12) == 0
    faults = plan(12)
    assert len(faults) == len(ORDER)
    assert faults[-1].lifted_s < 12 * 60


def test_a_window_too_short_for_the_outages_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot hold"):
        plan(3)


def test_steam_fault_is_two_thirds_503_then_429() -> None:
    first, second = steam_phases(900)
    assert (first, second) == pytest.approx((600, 300))
