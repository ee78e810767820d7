"""Secrets stay secret: one redaction rule, resources whose repr hides them, a JAAS line that cannot break."""

from __future__ import annotations

import logging
import re
from typing import Any

import dagster as dg
import pytest
from confluent_kafka import KafkaError
from pydantic import ValidationError

from steam_platform.assets.lake.bronze import spark_kafka_options
from steam_platform.core.redaction import (
    MASK,
    RedactingFilter,
    is_secret_name,
    mask_settings,
    redact,
    redact_loggers,
)
from steam_platform.core.settings import Environment
from steam_platform.resources.elasticsearch import ElasticsearchResource
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.kafka_security import (
    KafkaAccessError,
    access_problem,
    jaas_quoted,
    sasl_jaas_config,
)
from steam_platform.resources.kibana import KibanaResource
from steam_platform.resources.s3 import S3Resource
from steam_platform.resources.spark import build_pyspark_resource
from steam_platform.resources.steam_api import SteamApiResource
from steam_platform.resources.wiring import build_resources

SECRET = "Recognisable-Secret-0123456789"
#: A password that breaks a naively quoted JAAS line: quote, backslash, semicolon, comment starts.
NASTY = 'p"w\\d;x=1 // y /* z */ "; evil=true'


# -- the one rule ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "STEAM_API_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "DAGSTER_PG_PASSWORD",
        "KAFKA_SASL_PASSWORD",
        "ELASTICSEARCH_API_KEY",
        "MY_SECRET",
        "SECRET_THING",
        "CLIENT_SECRET_VALUE",
        "GITHUB_TOKEN",
        "key",
        "password",
        "sasl.password",
        "fs.s3a.secret.key",
        "kafka.sasl.jaas.config",
        "api_key",
        "aws_secret_access_key",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "AWS_ACCESS_KEY_ID",
        "AWS_REGION",
        "STEAM_API_BASE_URL",
        "KAFKA_SASL_USERNAME",
        "appid",
        "monkey",
        "keys",
    ],
)
def test_other_names(name: str) -> None:
    assert not is_secret_name(name)


def test_mask_settings_masks_only_secret_values() -> None:
    env = {"AWS_SECRET_ACCESS_KEY": SECRET, "DAGSTER_PG_PASSWORD": SECRET, "AWS_REGION": "us-east-1"}
    assert mask_settings(env) == {
        "AWS_SECRET_ACCESS_KEY": MASK,
        "DAGSTER_PG_PASSWORD": MASK,
        "AWS_REGION": "us-east-1",
    }


def test_redact_scrubs_literals_their_url_encoding_and_secret_assignments() -> None:
    odd = "a b/c+d&e"
    text = (
        f"GET https://api.example/x?appid=570&key={SECRET}&format=json failed; "
        f"literal {odd} encoded a%20b%2Fc%2Bd%26e plus a+b%2Fc%2Bd%26e; "
        f'jaas: username="u" password="x\\"y;z"; rows=5 sasl.password={SECRET}'
    )
    cleaned = redact(text, [odd, None, ""])
    assert SECRET not in cleaned and odd not in cleaned and "a%20b" not in cleaned and "a+b" not in cleaned
    assert "key=***" in cleaned and "password=***" in cleaned and "sasl.password=***" in cleaned
    assert "appid=570" in cleaned and "format=json" in cleaned and "rows=5" in cleaned
    assert 'username="u"' in cleaned and "y;z" not in cleaned


def test_one_secret_given_as_a_string_is_one_secret_not_its_characters() -> None:
    assert redact(f"token {SECRET} in text", SECRET) == "token *** in text"
    assert redact("a plain message", "e") == "a plain m***ssag***"


def test_the_log_filter_scrubs_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("steam_platform.tests.redaction")
    redact_loggers(logger.name)
    redact_loggers(logger.name)  # idempotent
    assert sum(isinstance(f, RedactingFilter) for f in logger.filters) == 1
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        logger.debug("GET /x?key=%s&appid=%d", SECRET, 570)
    assert SECRET not in caplog.text and "key=***&appid=570" in caplog.text


# -- resources: repr and str hide secrets, the values still work ---------------------------------
def _resources() -> dict[str, Any]:
    s3 = S3Resource(endpoint_url="http://127.0.0.1:19000", access_key_id="AKID", secret_access_key=SECRET)
    return {
        "steam": SteamApiResource(api_key=SECRET),
        "kafka": KafkaResource(
            bootstrap_servers="k:9092",
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="u",
            sasl_password=SECRET,
        ),
        "es_basic": ElasticsearchResource(url="https://es:9200", username="u", password=SECRET),
        "es_api_key": ElasticsearchResource(url="https://es:9200", api_key=SECRET),
        "kibana": KibanaResource(url="https://kibana:5601", username="u", password=SECRET),
        "s3": s3,
        "pyspark": build_pyspark_resource(s3, jars=["/jars/a.jar"]),
    }


@pytest.mark.parametrize("name", list(_resources()))
def test_repr_and_str_of_every_resource_hide_its_secret(name: str) -> None:
    resource = _resources()[name]
    for shown in (repr(resource), str(resource), f"{resource}", repr([resource]), repr({"r": resource})):
        assert SECRET not in shown, shown


def test_the_secrets_still_reach_the_clients() -> None:
    res = _resources()
    kafka = res["kafka"]
    assert kafka.producer_config()["sasl.password"] == SECRET
    assert kafka.consumer_config("g")["sasl.password"] == SECRET
    assert res["steam"].has_key and res["steam"].api_key == SECRET
    assert res["s3"].spark_credentials()["fs.s3a.secret.key"] == SECRET
    assert res["pyspark"].s3.spark_credentials()["fs.s3a.secret.key"] == SECRET
    assert SECRET not in str(res["pyspark"].session_conf())  # S3 keys go to the session, not the conf
    assert res["es_basic"].password == SECRET and res["es_api_key"].api_key == SECRET
    assert res["kibana"].password == SECRET


def test_a_secret_filled_by_env_var_resolves_at_run_time_and_stays_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_SASL_PASSWORD", SECRET)
    monkeypatch.setenv("TEST_STEAM_API_KEY", SECRET)
    seen: dict[str, Any] = {}

    @dg.asset
    def probe(kafka: KafkaResource, steam: SteamApiResource) -> None:
        seen["password"] = kafka.producer_config()["sasl.password"]
        seen["key"] = steam.api_key
        seen["repr"] = repr(kafka) + repr(steam)

    resources = {
        "kafka": KafkaResource(
            bootstrap_servers="k:9092", sasl_mechanism="PLAIN", sasl_password=dg.EnvVar("TEST_SASL_PASSWORD")
        ),
        "steam": SteamApiResource(api_key=dg.EnvVar("TEST_STEAM_API_KEY")),
    }
    assert dg.materialize([probe], resources=resources).success
    assert seen["password"] == SECRET and seen["key"] == SECRET
    assert SECRET not in seen["repr"]


def test_validation_errors_do_not_quote_the_input() -> None:
    with pytest.raises(ValidationError) as excinfo:
        SteamApiResource(api_key=SECRET, max_attempts=SECRET)  # type: ignore[arg-type]
    assert SECRET not in str(excinfo.value) and "max_attempts" in str(excinfo.value)


# -- the JAAS line -------------------------------------------------------------------------------
#: StreamTokenizer's escapes that matter here; any other escaped character stands for itself.
_JAAS_ESCAPES = {"n": "\n", "r": "\r"}
_JAAS_OPTION = re.compile(r'(\w+)="((?:[^"\\\n\r]|\\.)*)"')


def _parse_jaas(line: str) -> tuple[str, dict[str, str]]:
    """Read a one-entry JAAS line the way Kafka's `JaasConfig` (Java's StreamTokenizer) does."""
    module, flag, rest = line.split(" ", 2)
    assert flag == "required" and rest.endswith(";")
    options: dict[str, str] = {}
    position = 0
    body = rest[:-1]
    while position < len(body):
        match = _JAAS_OPTION.match(body, position)
        assert match, f"unparseable JAAS options at {position}: {body[position:]!r}"
        options[match[1]] = re.sub(r"\\(.)", lambda m: _JAAS_ESCAPES.get(m[1], m[1]), match[2], flags=re.S)
        position = match.end()
        while position < len(body) and body[position] == " ":
            position += 1
    return module, options


@pytest.mark.parametrize("password", [NASTY, "\\", '"', ";", "a\nb\r", "", "plain"])
def test_the_jaas_line_carries_any_password_exactly(password: str) -> None:
    line = sasl_jaas_config("SCRAM-SHA-256", 'us"er\\', password)
    module, options = _parse_jaas(line)
    assert module == "org.apache.kafka.common.security.scram.ScramLoginModule"
    assert options == {"username": 'us"er\\', "password": password}
    assert "\n" not in line and "\r" not in line


def test_jaas_quoting_escapes_backslash_before_quote() -> None:
    assert jaas_quoted('a\\"b') == '"a\\\\\\"b"'
    assert jaas_quoted("plain") == '"plain"'


def test_spark_kafka_options_use_the_escaped_line_and_redact_scrubs_it() -> None:
    kafka = KafkaResource(
        bootstrap_servers="k:9092",
        security_protocol="SASL_SSL",
        sasl_mechanism="PLAIN",
        sasl_username="u",
        sasl_password=NASTY,
    )
    options = spark_kafka_options(kafka)
    assert options == kafka.spark_options()
    module, parsed = _parse_jaas(options["kafka.sasl.jaas.config"])
    assert module.endswith("PlainLoginModule") and parsed["password"] == NASTY
    assert options["kafka.security.protocol"] == "SASL_SSL" and options["kafka.sasl.mechanism"] == "PLAIN"
    message = redact(f"Kafka source failed with {options['kafka.sasl.jaas.config']} (bad login)")
    assert "password=***" in message and "(bad login)" in message
    assert 'p\\"w' not in message and "evil" not in message
    assert mask_settings(options)["kafka.sasl.jaas.config"] == MASK
    assert NASTY not in repr(kafka)


def test_no_sasl_means_no_jaas_line_and_unknown_mechanisms_fail_without_the_password() -> None:
    assert KafkaResource(bootstrap_servers="k").spark_options() == {"kafka.security.protocol": "PLAINTEXT"}
    kafka = KafkaResource(bootstrap_servers="k", sasl_mechanism="GSSAPI", sasl_password=SECRET)
    with pytest.raises(ValueError, match="GSSAPI") as excinfo:
        kafka.spark_options()
    assert SECRET not in str(excinfo.value)


def test_the_jaas_line_never_lands_in_the_spark_config() -> None:
    kafka = _resources()["kafka"]
    pyspark = _resources()["pyspark"]
    assert "jaas" not in str(pyspark.spark_config).lower()
    assert SECRET in kafka.spark_options()["kafka.sasl.jaas.config"]  # only in the reader's options


# -- Kafka over TLS: the CA reaches every client; refusals say what to fix, never the password -----
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n"


def _tls_kafka(ca: str | None, **overrides: Any) -> KafkaResource:
    settings: dict[str, Any] = {
        "bootstrap_servers": "127.0.0.1:1",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "steam",
        "sasl_password": SECRET,
        "ssl_ca_location": ca,
        **overrides,
    }
    return KafkaResource(**settings)


def test_the_ca_reaches_librdkafka_and_spark_as_pem_certificates(tmp_path: Any) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text(CA_PEM)
    kafka = _tls_kafka(str(ca))
    for config in (kafka.client_config(), kafka.producer_config(), kafka.consumer_config("g")):
        assert config["ssl.ca.location"] == str(ca) and config["security.protocol"] == "SASL_SSL"
    options = kafka.spark_options()
    assert options["kafka.ssl.truststore.type"] == "PEM"
    assert options["kafka.ssl.truststore.certificates"] == CA_PEM  # inline: executors read no file
    assert "ssl.ca.location" not in KafkaResource(bootstrap_servers="k").client_config()
    assert "kafka.ssl.truststore.type" not in _tls_kafka(None).spark_options()  # system CAs


@pytest.mark.parametrize("content", [None, "not a certificate"])
def test_an_unreadable_or_empty_ca_file_names_the_setting(tmp_path: Any, content: str | None) -> None:
    ca = tmp_path / "ca.pem"
    if content is not None:
        ca.write_text(content)
    kafka = _tls_kafka(str(ca))
    for call in (kafka.spark_options, kafka.check_access):
        with pytest.raises(KafkaAccessError, match=f"KAFKA_SSL_CA_LOCATION={ca}") as excinfo:
            call()
        assert excinfo.value.allow_retries is False and SECRET not in str(excinfo.value)


def _client_error(code: int, text: str) -> KafkaError:
    return KafkaError(code, f"sasl_ssl://127.0.0.1:9093/bootstrap: {text}")


AUTH_FAILED = (
    "SASL authentication error: Authentication failed during authentication due to invalid "
    "credentials with SASL mechanism SCRAM-SHA-512 (after 320ms in state AUTH_REQ)"
)
NOT_TRUSTED = (
    "SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker "
    "certificate could not be verified, verify that ssl.ca.location is correctly configured or root "
    "CA certificates are installed (install ca-certificates package) (after 10ms in state SSL_HANDSHAKE)"
)


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        (
            [
                (KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"),
                (KafkaError._AUTHENTICATION, AUTH_FAILED),
            ],
            "Kafka authentication failed for user 'steam' (SCRAM-SHA-512) at b:9093: check "
            "KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD (broker: SASL authentication error: Authentication "
            "failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512 "
            "(after 320ms in state AUTH_REQ))",
        ),
        (
            [
                (
                    KafkaError._AUTHENTICATION,
                    "SASL SCRAM-SHA-512 mechanism handshake failed: Broker: Unsupported SASL mechanism",
                )
            ],
            "check KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM",
        ),
        (
            [(KafkaError._SSL, NOT_TRUSTED)],
            "TLS: broker certificate of b:9093 not trusted by the CA in /ca.pem: check "
            "KAFKA_SSL_CA_LOCATION (the PEM file of the CA that signed the brokers' certificates) "
            "(OpenSSL: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: "
            "broker certificate could not be verified)",
        ),
        (
            [(KafkaError._SSL, "SSL handshake failed: wrong version number")],
            "TLS handshake with b:9093 failed",
        ),
        ([(KafkaError._ALL_BROKERS_DOWN, "3/3 brokers are down"), (KafkaError._TRANSPORT, "refused")], None),
    ],
)
def test_client_errors_become_advice(errors: list[tuple[int, str]], expected: str | None) -> None:
    problem = access_problem(
        [_client_error(code, text) for code, text in errors],
        bootstrap_servers="b:9093",
        username="steam",
        mechanism="SCRAM-SHA-512",
        ca_location="/ca.pem",
    )
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem


def test_a_refusal_is_not_retried_and_hides_a_password_the_broker_might_echo() -> None:
    kafka = _tls_kafka(None, sasl_username=SECRET)  # a password typed into the user name by mistake
    with pytest.raises(KafkaAccessError) as excinfo:
        kafka._raise_on_refusal([_client_error(KafkaError._AUTHENTICATION, AUTH_FAILED)])
    assert excinfo.value.allow_retries is False
    assert "authentication failed for user '***'" in str(excinfo.value)
    assert SECRET not in str(excinfo.value)
    assert KafkaAccessError("no answer", retryable=True).allow_retries is True


def test_kafka_security_settings_are_wired_and_the_password_stays_an_env_var(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for key in ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_REPLICATION_FACTOR", "KAFKA_MIN_INSYNC_REPLICAS"):
        monkeypatch.setenv(key, "1" if key != "KAFKA_BOOTSTRAP_SERVERS" else "b:9093")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "steam")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", SECRET)
    monkeypatch.setenv("KAFKA_SSL_CA_LOCATION", "/etc/kafka/ca.pem")
    monkeypatch.setenv("ELASTICSEARCH_URL", "http://127.0.0.1:9200")
    monkeypatch.setenv("LAKE_BUCKET", "steam-lake")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("STEAM_STACK_DIR", str(tmp_path))

    for env in (Environment.PRODUCTION, Environment.LOCAL):
        kafka = build_resources(env)["kafka"]
        assert kafka.ssl_ca_location == "/etc/kafka/ca.pem" and kafka.security_protocol == "SASL_SSL"
        assert kafka.sasl_password == "KAFKA_SASL_PASSWORD" and isinstance(kafka.sasl_password, dg.EnvVar)

    # The stack's generated password, read from its env file (what `stack up --kafka-security
    # sasl_ssl` writes), is an EnvVar too: the wiring copies it into the process environment.
    for key in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME"):
        monkeypatch.delenv(key)
    monkeypatch.delenv("KAFKA_SASL_PASSWORD")
    monkeypatch.delenv("KAFKA_SSL_CA_LOCATION")
    (tmp_path / "env").write_text(
        "export KAFKA_SECURITY_PROTOCOL=SASL_SSL\nexport KAFKA_SASL_MECHANISM=SCRAM-SHA-512\n"
        f"export KAFKA_SASL_USERNAME=steam\nexport KAFKA_SASL_PASSWORD={SECRET}\n"
        "export KAFKA_SSL_CA_LOCATION=/stack/kafka-security/ca.pem\n"
    )
    kafka = build_resources(Environment.LOCAL)["kafka"]
    assert (kafka.sasl_mechanism, kafka.sasl_username, kafka.sasl_password) == (
        "SCRAM-SHA-512",
        "steam",
        "KAFKA_SASL_PASSWORD",
    )
    assert isinstance(kafka.sasl_password, dg.EnvVar) and kafka.sasl_password.get_value() == SECRET
    assert kafka.ssl_ca_location == "/stack/kafka-security/ca.pem"
    assert SECRET not in repr(kafka)
