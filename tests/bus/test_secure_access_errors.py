"""A client the authenticated cluster refuses fails at once, says what to fix, shows no password, and
loses nothing: the real `news` ingest asset (in-process simulator over HTTP -> SASL_SSL Kafka) runs
with a wrong password, then with a CA that did not sign the brokers' certificates, then with a CA
file that does not exist; each run fails before producing a record; the rerun with the stack's
settings delivers every post of the day exactly once (counted by `event_id` in the topic).

Also: the stack's environment carries the security settings, the local wiring reads them, the
material is owner-only, and no secret reaches a broker's log or command line.
"""

from __future__ import annotations

import json
import logging
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from ingest_support import IN_PROCESS_KEY, SimAdmin

from steam_devstack.kafka_drill import kafka_service, stack_kafka
from steam_devstack.process import process_tree
from steam_devstack.services.kafka_tls import FOLDER, make_ca
from steam_devstack.stack import LocalStack
from steam_platform.assets.bus.audit import read_topic
from steam_platform.assets.ingest.definitions import news
from steam_platform.core import sources
from steam_platform.core.settings import Environment
from steam_platform.core.tracked import load_tracked
from steam_platform.events.envelope import make_event_id
from steam_platform.resources.kafka import KafkaAccessError, KafkaResource
from steam_platform.resources.wiring import build_resources
from steam_simulator.server import SimulatorServer

pytestmark = [pytest.mark.kafka_security, pytest.mark.integration]

NEWS_SOURCE = "ISteamNews/GetNewsForApp/v2"
WRONG_PASSWORD = "Wr0ng-passw0rd-for-the-test"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimAdmin]:
    with SimulatorServer(port=0, seed=7, api_keys=(IN_PROCESS_KEY,)) as server:
        yield SimAdmin(server.base_url, IN_PROCESS_KEY)


def _day_with_news(sim: SimAdmin, state: Path) -> tuple[str, set[str]]:
    """A past day on which the simulator published news, and the event ids its posts must get."""
    client = sim.steam(state).client()
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for back in range(2, 9):
        start, end = today - timedelta(days=back), today - timedelta(days=back - 1)
        gids = {
            item["gid"]
            for appid in load_tracked().apps
            for item in client.news_page(appid, enddate=int(end.timestamp()), count=200).items
            if start.timestamp() <= item["date"] < end.timestamp()
        }
        if gids:
            return start.strftime("%Y-%m-%d"), {make_event_id(NEWS_SOURCE, gid) for gid in gids}
    raise AssertionError("the simulator published no news in the past week")


def _ingest(kafka: KafkaResource, sim: SimAdmin, day: str, state: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [news], partition_key=day, resources={"steam": sim.steam(state), "kafka": kafka}, raise_on_error=False
    )


def _failure(result: dg.ExecuteInProcessResult) -> str:
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_failure_data is not None and failure.step_failure_data.error is not None
    return failure.step_failure_data.error.to_string()


def _everything_shown(result: dg.ExecuteInProcessResult, caplog: Any, capfd: Any) -> str:
    """Every event, log record and byte written to stdout/stderr (librdkafka's C logs included)."""
    parts = [caplog.text, *(r.getMessage() for r in caplog.records)]
    for event in result.all_events:
        parts.append(str(event))
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            parts.append(event.step_failure_data.error.to_string())
    out, err = capfd.readouterr()
    return "\n".join([*parts, out, err])


def _counts(kafka: KafkaResource, ids: set[str]) -> dict[str, int]:
    """How often each of `ids` is in the news topic (0 when the topic does not exist yet)."""
    if sources.NEWS.topic not in kafka.admin().list_topics(timeout=30).topics:
        return dict.fromkeys(ids, 0)
    readout = read_topic(kafka, sources.NEWS.topic, timeout_s=120)
    assert readout.complete
    return {i: readout.per_id[i] for i in ids}


def test_refused_clients_fail_clearly_before_producing_and_a_rerun_delivers_everything_once(
    kafka_cluster: LocalStack,
    sim: SimAdmin,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    good = stack_kafka(kafka_cluster)
    password = good.sasl_password
    assert password and good.security_protocol == "SASL_SSL" and good.ssl_ca_location
    day, expected = _day_with_news(sim, tmp_path / "expected")

    # 1. Wrong password: a login failure naming the user and the settings, no retry, nothing produced.
    started = time.monotonic()
    wrong = _ingest(stack_kafka(kafka_cluster, sasl_password=WRONG_PASSWORD), sim, day, tmp_path / "a")
    message = _failure(wrong)
    assert "Kafka authentication failed for user 'steam' (SCRAM-SHA-512)" in message
    assert "check KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD" in message
    assert not any(e.event_type_value == "STEP_UP_FOR_RETRY" for e in wrong.all_events)
    assert time.monotonic() - started < 60  # refused at once, not after delivery timeouts
    shown = _everything_shown(wrong, caplog, capfd)
    leaked = WRONG_PASSWORD in shown or password in shown
    assert not leaked, "a password was shown"  # (a bool: a failure never prints the password)

    # 2. A CA that did not sign the brokers' certificates: a TLS trust error naming the setting.
    other_ca = make_ca(tmp_path / "other-ca", "other-store-password", name="not the stack's CA")
    untrusted = _ingest(stack_kafka(kafka_cluster, ssl_ca_location=str(other_ca)), sim, day, tmp_path / "b")
    message = _failure(untrusted)
    assert "TLS: broker certificate" in message and "not trusted" in message
    assert "check KAFKA_SSL_CA_LOCATION" in message and str(other_ca) in message
    leaked = password in _everything_shown(untrusted, caplog, capfd)
    assert not leaked, "the password was shown"

    # 3. A CA file that is not there.
    missing = tmp_path / "nowhere" / "ca.pem"
    unreadable = _ingest(stack_kafka(kafka_cluster, ssl_ca_location=str(missing)), sim, day, tmp_path / "c")
    assert f"KAFKA_SSL_CA_LOCATION={missing}: cannot read the CA certificate" in _failure(unreadable)

    assert set(_counts(good, expected).values()) == {0}  # none of the failed runs produced anything

    # 4. The stack's own settings: every post of the day arrives, each exactly once.
    fixed = _ingest(good, sim, day, tmp_path / "d")
    assert fixed.success
    (materialization,) = fixed.asset_materializations_for_node("news")
    assert materialization.metadata["events_total"].value == len(expected)
    assert _counts(good, expected) == dict.fromkeys(expected, 1)


def test_every_client_helper_reports_a_refusal_the_same_way(kafka_cluster: LocalStack) -> None:
    """The admin check, `produce_all` and the audit reader fail fast with the same message."""
    for call in (
        lambda k: k.check_access(),
        lambda k: k.ensure_topics([]),
        lambda k: k.produce_all([]),
        lambda k: read_topic(k, sources.NEWS.topic, timeout_s=30),
    ):
        kafka = stack_kafka(kafka_cluster, sasl_username="nobody")
        started = time.monotonic()
        with pytest.raises(KafkaAccessError, match=r"user 'nobody' \(SCRAM-SHA-512\)") as caught:
            call(kafka)
        assert time.monotonic() - started < 20
        assert caught.value.allow_retries is False
        leaked = kafka_cluster.endpoints()["KAFKA_SASL_PASSWORD"] in str(caught.value)
        assert not leaked, "the password was shown"
    plaintext = stack_kafka(kafka_cluster, security_protocol="PLAINTEXT", sasl_mechanism=None)
    with pytest.raises(KafkaAccessError, match="KAFKA_SECURITY_PROTOCOL") as caught:
        plaintext.check_access(timeout_s=5)
    assert caught.value.allow_retries is True  # no answer at all may be transient


def test_the_stack_env_carries_the_settings_and_the_local_wiring_uses_them(
    kafka_cluster: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = kafka_cluster.env_file.read_text()
    tls = kafka_service(kafka_cluster).tls
    for line in (
        "KAFKA_SECURITY_PROTOCOL=SASL_SSL",
        "KAFKA_SASL_MECHANISM=SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME=steam",
        f"KAFKA_SSL_CA_LOCATION={tls.ca_pem}",
        "KAFKA_SASL_PASSWORD=",
    ):
        assert f"export {line}" in env_file, line
    for key in [k for k in kafka_cluster.endpoints() if k.startswith("KAFKA_")]:
        monkeypatch.setenv(key, "")  # recorded, so the password the wiring copies in goes after the test
        monkeypatch.delenv(key)
    monkeypatch.setenv("STEAM_STACK_DIR", str(kafka_cluster.state_dir))

    kafka = build_resources(Environment.LOCAL)["kafka"]

    assert (kafka.security_protocol, kafka.sasl_mechanism, kafka.sasl_username) == (
        "SASL_SSL",
        "SCRAM-SHA-512",
        "steam",
    )
    assert (kafka.replication_factor, kafka.min_insync_replicas) == (3, 2)
    # The env file's password reaches the resource as an EnvVar, which a run resolves.
    assert isinstance(kafka.sasl_password, dg.EnvVar) and kafka.sasl_password == "KAFKA_SASL_PASSWORD"
    with dg.build_resources({"kafka": kafka}) as built:
        built.kafka.check_access()
        options = built.kafka.spark_options()
    assert options["kafka.ssl.truststore.type"] == "PEM"
    assert options["kafka.ssl.truststore.certificates"] == tls.ca_pem.read_text()
    leaked = kafka_cluster.endpoints()["KAFKA_SASL_PASSWORD"] in repr(kafka)
    assert not leaked, "the password is in the resource's repr"


def test_material_is_owner_only_and_no_secret_reaches_logs_or_command_lines(
    kafka_cluster: LocalStack,
) -> None:
    state = kafka_cluster.state_dir
    folder = state / FOLDER
    assert stat.S_IMODE(folder.stat().st_mode) & 0o077 in (0, 0o001)  # at most the search bit
    files = sorted(folder.iterdir())
    assert {f.name for f in files} >= {"ca.p12", "ca.pem", "credentials.json", "truststore.p12", "node-1.p12"}
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files), [oct(f.stat().st_mode) for f in files]
    configs = sorted((state / "data" / "kafka").glob("server-*.properties"))
    assert len(configs) == 3 and all(stat.S_IMODE(c.stat().st_mode) == 0o600 for c in configs)
    assert not list((state / "data" / "kafka").glob(".format-*"))  # argfiles are deleted
    assert stat.S_IMODE(kafka_cluster.env_file.stat().st_mode) == 0o600

    credentials = json.loads((folder / "credentials.json").read_text())
    secrets = [credentials[k] for k in ("client_password", "broker_password", "store_password")]
    logs = "".join(p.read_text(errors="replace") for p in (state / "logs").glob("kafka*.log"))
    assert "SASL_SSL" in logs  # the logs are the brokers' own
    svc = kafka_service(kafka_cluster)
    roots = [pid for pid in (p.pid() for p in svc.processes()) if pid is not None]
    assert len(roots) == 3
    command_lines = [" ".join(proc.cmdline()) for root in roots for proc in process_tree(root)]
    shown = "\n".join(
        [logs, *command_lines, json.dumps(kafka_cluster.endpoints() | {"KAFKA_SASL_PASSWORD": "-"})]
    )
    leaked = [i for i, secret in enumerate(secrets) if secret in shown]
    assert leaked == [], "secrets (by index) found in logs, command lines or endpoints"
