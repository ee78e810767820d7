"""`--kafka-security` as a stack setting (no server starts): recorded in `stack.json` like the cluster
size, plaintext by default, changed only while the stack is down (with fresh Kafka storage), and the
SASL_SSL material made once by keytool, owner-only, with passwords nowhere in a repr.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from steam_devstack.cli import app
from steam_devstack.health import StackError
from steam_devstack.services.kafka import KafkaService
from steam_devstack.services.kafka_tls import KafkaCredentials, KafkaSecurity, KafkaTls
from steam_devstack.stack import LocalStack

pytestmark = pytest.mark.kafka_security


def _stack(state: Path, security: str | None = None) -> LocalStack:
    return LocalStack(state, only=["kafka"], prefer_default_ports=False, kafka_security=security)


def _kafka(stack: LocalStack) -> KafkaService:
    (svc,) = [s for s in stack.services if isinstance(s, KafkaService)]
    return svc


def test_plaintext_is_the_default_and_nothing_changes_without_the_flag(tmp_path: Path) -> None:
    stack = _stack(tmp_path)
    assert stack.kafka_security is KafkaSecurity.PLAINTEXT
    assert json.loads(stack.manifest.read_text())["kafka_security"] == "plaintext"
    env = _kafka(stack).endpoints()
    assert set(env) == {"KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BROKERS", "KAFKA_METRICS_URLS"}
    assert _kafka(stack).client_settings() == {"bootstrap_servers": env["KAFKA_BOOTSTRAP_SERVERS"]}


def test_the_choice_is_recorded_kept_and_changed_only_while_down(tmp_path: Path) -> None:
    assert _stack(tmp_path, "sasl_ssl").kafka_security is KafkaSecurity.SASL_SSL
    assert _stack(tmp_path).kafka_security is KafkaSecurity.SASL_SSL  # kept for later calls
    assert json.loads((tmp_path / "stack.json").read_text())["kafka_security"] == "sasl_ssl"

    storage = tmp_path / "data" / "kafka"
    storage.mkdir(parents=True)
    (storage / "meta").write_text("formatted without SCRAM users")
    pids = tmp_path / "pids"
    pids.mkdir()
    (pids / "kafka-1.pid").write_text("{}")
    with pytest.raises(StackError, match=r"runs Kafka with sasl_ssl; run `stack down` first"):
        _stack(tmp_path, "plaintext")
    assert (storage / "meta").exists()

    (pids / "kafka-1.pid").unlink()
    assert _stack(tmp_path, "plaintext").kafka_security is KafkaSecurity.PLAINTEXT
    assert not storage.exists()  # SCRAM users are made at format time: fresh storage

    with pytest.raises(StackError, match=r"--kafka-security must be one of plaintext, sasl_ssl, not 'tls'"):
        _stack(tmp_path, "tls")


def test_the_cli_offers_the_option_on_up_and_run() -> None:
    runner = CliRunner()
    for command in (["stack", "up", "--help"], ["run", "--help"]):
        result = runner.invoke(app, command, env={"COLUMNS": "200"})
        assert result.exit_code == 0 and "--kafka-security" in result.output
        assert "sasl_ssl" in result.output


def test_the_material_is_made_once_with_keytool_and_kept_owner_only(tmp_path: Path) -> None:
    stack = _stack(tmp_path, "sasl_ssl")
    tls = KafkaTls(stack.ctx)
    creds = tls.ensure([1])
    folder = tls.folder
    names = {p.name for p in folder.iterdir()}
    assert names == {"credentials.json", "ca.p12", "ca.pem", "truststore.p12", "node-1.p12"}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    assert stat.S_IMODE(folder.stat().st_mode) & 0o077 in (0, 0o001)  # at most the search bit
    assert tls.ca_pem.read_text().startswith("-----BEGIN CERTIFICATE-----")
    saved = tls.credentials()
    assert saved is not None and saved.secrets == creds.secrets
    leaked = any(s in repr(creds) for s in creds.secrets)
    assert not leaked, "a password is in the credentials' repr"

    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert tls.ensure([1]) == creds  # nothing regenerated
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    tls.ensure([1, 2, 3])  # a bigger cluster: keys for the new nodes from the same CA
    assert {p.name for p in folder.iterdir()} == names | {"node-2.p12", "node-3.p12"}
    assert tls.ca_pem.stat().st_mtime_ns == before["ca.pem"]

    env = _kafka(stack).endpoints()
    assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL" and env["KAFKA_SASL_USERNAME"] == "steam"
    assert env["KAFKA_SASL_PASSWORD"] == creds.client_password != creds.broker_password
    assert env["KAFKA_SSL_CA_LOCATION"] == str(tls.ca_pem)
    assert isinstance(KafkaCredentials.generate().client_password, str)
