"""Alerts about the platform's own work reach a person, and tell them when it is fixed.

Real servers all the way: the platform's exporter (`python -m steam_platform.monitoring`) reads a
Dagster instance, Prometheus scrapes it every second and evaluates `deploy/monitoring/alerts.yml`
(every `for:` shortened to 0 s), Alertmanager posts Slack-compatible JSON to a webhook served by
the test. The code location is a tiny one (`alert_defs.py`): a job that fails on demand, and an
asset with a freshness policy in the `lake` layer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import alert_defs
import dagster as dg
import pytest
from alert_support import WebhookReceiver, fast_monitoring, webhook_receiver
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.instance.utils import RUNLESS_JOB_NAME, RUNLESS_RUN_ID

pytestmark = pytest.mark.integration  # real servers (Prometheus, Alertmanager, the exporter)

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def alerting(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dg.DagsterInstance, WebhookReceiver]]:
    """A Dagster instance watched by the whole alert path; the receiver collects the messages."""
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("")
    instance = dg.DagsterInstance.from_config(str(home))
    with (
        webhook_receiver() as (receiver, url),
        fast_monitoring(
            tmp_path_factory.mktemp("monitoring"),
            url,
            exporter_argv=["--definitions", "alert_defs:defs", "--no-services"],
            exporter_env={"DAGSTER_HOME": str(home), "PYTHONPATH": str(HERE)},
        ),
    ):
        yield instance, receiver


def _run_export(instance: dg.DagsterInstance, fail: bool) -> dg.DagsterRunStatus:
    result = alert_defs.defs.get_job_def(alert_defs.JOB).execute_in_process(
        instance=instance,
        run_config={"ops": {"export": {"config": {"fail": fail}}}},
        raise_on_error=False,
    )
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    return run.status


def test_a_failed_run_raises_an_alert_and_a_later_success_of_the_job_resolves_it(
    alerting: tuple[dg.DagsterInstance, WebhookReceiver],
) -> None:
    instance, receiver = alerting
    started = time.monotonic()
    assert _run_export(instance, fail=True) is dg.DagsterRunStatus.FAILURE
    fired = receiver.wait_for(
        "FIRING", "SteamRunFailed", f"The latest run of {alert_defs.JOB} failed", since=started
    )
    assert receiver.find("RESOLVED", "SteamRunFailed", since=started) is None

    assert _run_export(instance, fail=False) is dg.DagsterRunStatus.SUCCESS
    resolved = receiver.wait_for("RESOLVED", "SteamRunFailed", alert_defs.JOB, since=fired.received_at)
    took = (fired.received_at - started, resolved.received_at - fired.received_at)
    print(f"failed run -> alert {took[0]:.1f} s; -> resolved {took[1]:.1f} s")


def _materialised_at(instance: dg.DagsterInstance, timestamp: float) -> None:
    """Record the asset's materialisation as of `timestamp` (data that landed that long ago)."""
    instance.report_dagster_event(
        DagsterEvent(
            event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
            event_specific_data=StepMaterializationData(dg.AssetMaterialization(alert_defs.ASSET)),
            job_name=RUNLESS_JOB_NAME,
        ),
        run_id=RUNLESS_RUN_ID,
        timestamp=timestamp,
    )


def test_a_stale_layer_raises_an_alert_and_a_refresh_resolves_it(
    alerting: tuple[dg.DagsterInstance, WebhookReceiver],
) -> None:
    instance, receiver = alerting
    started = time.monotonic()
    _materialised_at(instance, time.time() - 300)  # 4 minutes past its one-minute fail window
    fired = receiver.wait_for(
        "FIRING", "SteamLayerStale", f"The {alert_defs.LAYER} layer is stale", since=started
    )

    instance.report_runless_asset_event(dg.AssetMaterialization(alert_defs.ASSET))  # refreshed now
    resolved = receiver.wait_for("RESOLVED", "SteamLayerStale", since=fired.received_at)
    took = (fired.received_at - started, resolved.received_at - fired.received_at)
    print(f"stale layer -> alert {took[0]:.1f} s; -> resolved {took[1]:.1f} s")
