"""The chaos benchmark's figures: recovery per fault, alerts per fault, missed polls vs gaps, targets."""

from __future__ import annotations

from datetime import UTC, datetime

from chaos_report import (
    AlertMessage,
    FaultRecord,
    RunView,
    attribute_alerts,
    fault_entries,
    gaps_figures,
    in_flight_runs,
    missed_polls,
    recovered_at,
    slot_label,
    targets,
    unresolved_alerts,
)

T0 = datetime(2026, 12, 4, 11, 0, tzinfo=UTC).timestamp()


def lake(run_id: str, created: float, ended: float | None, status: str = "SUCCESS") -> RunView:
    return RunView(run_id, "lake:poll", status, T0 + created, None if ended is None else T0 + ended)


def test_recovered_when_a_lake_run_created_after_the_lift_succeeds() -> None:
    fault = FaultRecord("elasticsearch_stop", 0, 60, started=T0, lifted=T0 + 60)
    runs = [
        lake("before", 10, 50, "FAILURE"),
        lake("started-during-outage", 30, 90),  # created before the lift: does not count
        RunView("poll", "player_counts_poll", "SUCCESS", T0 + 70, T0 + 80),
        lake("after", 100, 170),
        lake("later", 200, 260),
    ]
    assert recovered_at(fault, runs) == T0 + 170
    assert recovered_at(FaultRecord("s3_stop", 0, 60, started=T0), runs) is None  # never lifted


def test_a_killed_lake_run_must_have_ended_too() -> None:
    fault = FaultRecord("lake_worker_kill", 0, 0, started=T0, lifted=T0, detail={"run_id": "killed"})
    fresh = lake("next", 30, 100)
    assert recovered_at(fault, [lake("killed", -20, None, "STARTED"), fresh]) is None
    assert recovered_at(fault, [lake("killed", -20, 250, "FAILURE"), fresh]) == T0 + 250


def test_alerts_belong_to_the_fault_whose_span_they_fired_in_and_resolve_by_name() -> None:
    faults = [
        FaultRecord("broker_kill", 0, 45, started=T0 + 100, lifted=T0 + 150),
        FaultRecord("s3_stop", 0, 60, started=T0 + 300, lifted=T0 + 360),
    ]
    messages = [
        AlertMessage(T0 + 50, "FIRING", "SteamLayerStale", "before any fault"),
        AlertMessage(T0 + 140, "FIRING", "KafkaBrokerDown", "broker 2 down"),
        AlertMessage(T0 + 145, "FIRING", "KafkaBrokerDown", "repeat"),
        AlertMessage(T0 + 200, "RESOLVED", "KafkaBrokerDown", "broker 2 down"),
        AlertMessage(T0 + 330, "FIRING", "SteamRunFailed", "lake_refresh_job failed"),
    ]
    per_fault, before = attribute_alerts(faults, messages, end=T0 + 900)
    assert [a["alert"] for a in before] == ["SteamLayerStale"]
    assert [(a["alert"], a["resolved"]) for a in per_fault[0]] == [("KafkaBrokerDown", True)]
    assert [(a["alert"], a["resolved"]) for a in per_fault[1]] == [("SteamRunFailed", False)]


def test_an_alert_is_unresolved_while_its_newest_message_is_firing() -> None:
    messages = [
        AlertMessage(T0 + 10, "FIRING", "KafkaBrokerDown", ""),
        AlertMessage(T0 + 90, "RESOLVED", "KafkaBrokerDown", ""),
        AlertMessage(T0 + 20, "FIRING", "SteamRunFailed", ""),
        AlertMessage(T0 + 80, "RESOLVED", "SteamRunFailed", ""),
        AlertMessage(T0 + 85, "FIRING", "SteamRunFailed", "fired again"),
        AlertMessage(T0 + 30, "FIRING", "SteamLayerStale", ""),
    ]
    assert unresolved_alerts(messages) == ["SteamLayerStale", "SteamRunFailed"]
    assert unresolved_alerts(messages[:2]) == []


def test_alertmanager_titles_are_parsed_and_others_ignored() -> None:
    grouped = AlertMessage.parse(T0, "[FIRING:2] SteamRunFailed", "x")
    assert grouped is not None and (grouped.status, grouped.alertname) == ("FIRING", "SteamRunFailed")
    assert AlertMessage.parse(T0, "hello", "x") is None


def test_missed_polls_are_the_closed_slots_without_a_snapshot() -> None:
    step = 120
    observed = [T0 + 5, T0 + 130, T0 + 370]  # slots 0, 1 and 3 of the hour
    # From T0 - 10 (first slot starting after it: T0) to T0 + 600 (slots up to 08:00 closed).
    missed = missed_polls(observed, T0 - 10, T0 + 600, step)
    assert missed == [int(T0) + 240, int(T0) + 480]
    assert slot_label(missed[0]) == ("2026-12-04", "11:04")
    figures = gaps_figures(missed, {("2026-12-04", "11:04")}, gap_rows=3)
    assert figures["missed_polls"] == 2
    assert figures["missed_not_recorded"] == ["2026-12-04 11:08"]


def test_fault_entries_and_targets() -> None:
    faults = [FaultRecord("broker_kill", 10, 45, started=T0, lifted=T0 + 45)]
    runs = [lake("after", 60, 150)]
    messages = [
        AlertMessage(T0 + 40, "FIRING", "KafkaBrokerDown", "down"),
        AlertMessage(T0 + 90, "RESOLVED", "KafkaBrokerDown", "down"),
    ]
    (entry,) = fault_entries(faults, runs, messages, end=T0 + 300)
    assert entry["kind"] == "broker_kill"
    assert entry["outage_s"] == 45 and entry["recovery_s"] == 105
    assert entry["start"] == "2026-12-04T11:00:00+00:00"
    rec = {"fact_rows": 10, "lost_in_fact": 0, "doubled_in_fact": 0, "lost_in_mart": 0}
    gaps = gaps_figures([], set(), gap_rows=0)
    met = targets([entry], ["broker_kill"], rec, gaps, in_flight=[])
    assert all(met.values()), met
    missed = targets([entry], ["broker_kill", "s3_stop"], {**rec, "lost_in_mart": 2}, gaps, [{"run_id": "x"}])
    assert not missed["every fault kind done at least once"]
    assert not missed["0 lost among snapshots polled"]
    assert not missed["0 runs left in flight at the end"]
    assert missed["0 doubled among snapshots polled"]


def test_in_flight_runs_at_the_end() -> None:
    runs = [lake("done", 0, 10), lake("stuck", 5, None, "STARTED"), RunView("q", "x", "QUEUED", T0)]
    assert [r["run_id"] for r in in_flight_runs(runs)] == ["stuck", "q"]


def test_runs_left_in_flight_are_those_created_before_the_last_lift() -> None:
    runs = [lake("old", 5, None, "STARTED"), lake("new-poll", 400, None, "STARTED")]
    assert [r["run_id"] for r in in_flight_runs(runs, created_before=T0 + 300)] == ["old"]
