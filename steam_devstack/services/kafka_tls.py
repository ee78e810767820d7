"""Security material of the local Kafka cluster in SASL_SSL mode (`stack up --kafka-security sasl_ssl`).

Everything is generated once per stack state folder, with the JDK's `keytool` only (no openssl, no
Python crypto package), into `<state>/kafka-security/`:

- `credentials.json`: the SCRAM-SHA-512 passwords of the client user `steam` and of the
  inter-broker user `broker`, and the key stores' password (the stack only);
- `ca.p12`: the throwaway CA's key pair (PKCS12; `keytool -gencert` only);
- `ca.pem`: the CA certificate as PEM, for librdkafka (`ssl.ca.location`) and Java clients (PEM
  trust store);
- `truststore.p12`: the CA certificate as a PKCS12 trust store (the brokers);
- `node-<n>.p12`: node n's key and its certificate (CN=kafka-node-n, SAN 127.0.0.1 and localhost,
  server and client use) signed by the CA (node n).

The folder is 0700 and every file 0600. When the stack runs as root the brokers run as the service
user (`StackContext.run_user`): the files the brokers read are given to it, the folder gets only the
search (x) bit for it, and the CA key and the credentials stay root's.

Passwords never reach a command line: keytool reads the store password from its environment
(`-storepass:env`), the storage tool reads the SCRAM credentials from a Java `@argfile` (0600,
deleted after formatting), and the brokers read theirs from their 0600 properties file.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from steam_devstack.health import StackError
from steam_devstack.paths import write_private
from steam_devstack.services.base import StackContext
from steam_platform.core.redaction import redact

#: SASL mechanism of the client listener; users are created at format time (`--add-scram`).
MECHANISM = "SCRAM-SHA-512"
#: The platform's user (producer, admin, consumers, Spark's Kafka source).
CLIENT_USER = "steam"
#: The brokers' own user on the SASL_SSL listener (inter-broker replication).
BROKER_USER = "broker"

FOLDER = "kafka-security"
SAN = "san=ip:127.0.0.1,dns:localhost"
CA_DAYS = 3650
CERT_DAYS = 825
KEYTOOL_TIMEOUT_S = 60
_PASS_ENV = "STEAM_KEYTOOL_STOREPASS"


class KafkaSecurity(StrEnum):
    """How clients reach the local Kafka cluster (`stack up --kafka-security`)."""

    PLAINTEXT = "plaintext"
    SASL_SSL = "sasl_ssl"


def parse_security(value: str | None) -> KafkaSecurity | None:
    """`value` as a `KafkaSecurity` (None stays None); a clear `StackError` for anything else."""
    if value is None:
        return None
    try:
        return KafkaSecurity(str(value).strip().lower())
    except ValueError:
        allowed = ", ".join(s.value for s in KafkaSecurity)
        raise StackError(f"kafka: --kafka-security must be one of {allowed}, not {value!r}") from None


def security_of(state_dir: Path) -> KafkaSecurity:
    """The security mode recorded in the stack's `stack.json` (`kafka_security`; default plaintext)."""
    try:
        saved = json.loads((state_dir / "stack.json").read_text())
    except (OSError, ValueError):
        return KafkaSecurity.PLAINTEXT
    return parse_security(saved.get("kafka_security")) or KafkaSecurity.PLAINTEXT


@dataclass(frozen=True)
class KafkaCredentials:
    """The SCRAM passwords of the stack's two users and the key stores' password (all secrets)."""

    client_password: str = field(repr=False)
    broker_password: str = field(repr=False)
    store_password: str = field(repr=False)

    @property
    def secrets(self) -> tuple[str, str, str]:
        return (self.client_password, self.broker_password, self.store_password)

    @classmethod
    def generate(cls) -> KafkaCredentials:
        # URL-safe alphabet: no quote, comma or bracket that the storage tool's `--add-scram`
        # syntax or a JAAS line would have to escape.
        return cls(*(secrets.token_urlsafe(24) for _ in range(3)))


def keytool(*args: str, password: str, cwd: Path) -> None:
    """Run `keytool` with the store password in its environment (`-storepass:env`), files 0600."""
    env = {**os.environ, _PASS_ENV: password}
    cmd = ["keytool", *args, "-storepass:env", _PASS_ENV]
    try:
        result = subprocess.run(
            cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=KEYTOOL_TIMEOUT_S, umask=0o077
        )
    except FileNotFoundError:
        raise StackError("kafka: `keytool` (from a JDK 17) is not installed; run `make install`") from None
    except subprocess.TimeoutExpired:
        raise StackError(f"kafka: keytool {args[0]} did not finish in {KEYTOOL_TIMEOUT_S}s") from None
    if result.returncode != 0:
        output = redact(f"{result.stdout}{result.stderr}", password)
        raise StackError(f"kafka: keytool {args[0]} failed in {cwd}:\n{output}")


def make_ca(folder: Path, password: str, name: str = "steam-platform local stack CA") -> Path:
    """A throwaway CA in `folder`: its key pair (`ca.p12`) and certificate (`ca.pem`); the PEM path."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    store, pem = folder / "ca.p12", folder / "ca.pem"
    if not store.exists():
        keytool(
            "-genkeypair", "-alias", "ca", "-keyalg", "RSA", "-keysize", "2048",
            "-dname", f"CN={name}", "-ext", "bc:c", "-ext", "ku:c=keyCertSign,cRLSign",
            "-validity", str(CA_DAYS), "-storetype", "PKCS12", "-keystore", store.name,
            password=password, cwd=folder,
        )  # fmt: skip
        pem.unlink(missing_ok=True)
    if not pem.exists():
        keytool(
            "-exportcert", "-rfc", "-alias", "ca", "-keystore", store.name, "-file", pem.name,
            password=password, cwd=folder,
        )  # fmt: skip
    return pem


class KafkaTls:
    """The SASL_SSL material of one stack (`<state>/kafka-security/`), created on demand."""

    def __init__(self, ctx: StackContext) -> None:
        self.ctx = ctx
        self.folder = ctx.state_dir / FOLDER

    @property
    def credentials_file(self) -> Path:
        return self.folder / "credentials.json"

    @property
    def ca_pem(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def truststore(self) -> Path:
        return self.folder / "truststore.p12"

    def keystore(self, node: int) -> Path:
        return self.folder / f"node-{node}.p12"

    def credentials(self) -> KafkaCredentials | None:
        """The stack's credentials, or None before the first secure `up`."""
        try:
            data = json.loads(self.credentials_file.read_text())
            return KafkaCredentials(data["client_password"], data["broker_password"], data["store_password"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def ensure(self, nodes: list[int]) -> KafkaCredentials:
        """Create whatever is missing (credentials, CA, trust store, node key stores); cheap when done."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.folder.chmod(0o700)
        creds = self.credentials()
        if creds is None:
            creds = KafkaCredentials.generate()
            write_private(
                self.credentials_file,
                json.dumps(
                    {
                        "client_user": CLIENT_USER,
                        "client_password": creds.client_password,
                        "broker_user": BROKER_USER,
                        "broker_password": creds.broker_password,
                        "store_password": creds.store_password,
                    },
                    indent=2,
                ),
            )
            # New passwords: material from an older run (other passwords) is no use any more.
            for stale in self.folder.glob("*.p12"):
                stale.unlink()
            self.ca_pem.unlink(missing_ok=True)
        password = creds.store_password
        make_ca(self.folder, password)
        if not self.truststore.exists():
            keytool(
                "-importcert", "-noprompt", "-alias", "ca", "-file", self.ca_pem.name,
                "-storetype", "PKCS12", "-keystore", self.truststore.name,
                password=password, cwd=self.folder,
            )  # fmt: skip
        for node in nodes:
            if not self.keystore(node).exists():
                self._node_keystore(node, password)
        self._share_with_brokers(nodes)
        return creds

    def _node_keystore(self, node: int, password: str) -> None:
        """Node `node`'s key pair, its certificate signed by the CA, and the CA, in one PKCS12 store."""
        alias, store = f"node-{node}", self.keystore(node)
        tmp = store.with_name(f".{store.name}.tmp")
        csr, crt = self.folder / f"{alias}.csr", self.folder / f"{alias}.crt"
        tmp.unlink(missing_ok=True)
        try:
            keytool(
                "-genkeypair", "-alias", alias, "-keyalg", "RSA", "-keysize", "2048",
                "-dname", f"CN=kafka-node-{node}", "-ext", SAN, "-validity", str(CERT_DAYS),
                "-storetype", "PKCS12", "-keystore", tmp.name, password=password, cwd=self.folder,
            )  # fmt: skip
            keytool(
                "-certreq", "-alias", alias, "-keystore", tmp.name, "-file", csr.name,
                password=password, cwd=self.folder,
            )  # fmt: skip
            keytool(
                "-gencert", "-rfc", "-alias", "ca", "-keystore", "ca.p12", "-infile", csr.name,
                "-outfile", crt.name, "-validity", str(CERT_DAYS), "-ext", SAN,
                "-ext", "ku:c=digitalSignature,keyEncipherment", "-ext", "eku=serverAuth,clientAuth",
                password=password, cwd=self.folder,
            )  # fmt: skip
            keytool(
                "-importcert", "-noprompt", "-alias", "ca", "-file", self.ca_pem.name,
                "-keystore", tmp.name, password=password, cwd=self.folder,
            )  # fmt: skip
            keytool(
                "-importcert", "-alias", alias, "-file", crt.name, "-keystore", tmp.name,
                password=password, cwd=self.folder,
            )  # fmt: skip
            tmp.replace(store)
        finally:
            for leftover in (tmp, csr, crt):
                leftover.unlink(missing_ok=True)

    def _share_with_brokers(self, nodes: list[int]) -> None:
        """Owner-only files; the brokers' ones given to the service user (root only), which may
        traverse the folder but not list it."""
        for path in self.folder.iterdir():
            path.chmod(0o600)
        for path in [self.ca_pem, self.truststore, *(self.keystore(n) for n in nodes)]:
            self.ctx.give_to_run_user(path)
        self.ctx.expose_to_run_user(self.folder)
