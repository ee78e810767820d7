"""The Docker Compose deployment, checked as far as a machine without a Docker engine allows.

The file is validated against the Compose specification's JSON schema (vendored in
`tests/fixtures/`, see its README for origin and license), so no engine is needed for that; the
other tests check what the schema cannot: memory limits, the Kafka cluster, wiring between
services. `docker compose config` runs too where the Compose plugin is installed.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from entrypoint_conf import printed_conf
from jsonschema import Draft202012Validator

from steam_devstack.services.kafka import JMX_RULES
from steam_devstack.services.simulator import LOCAL_API_KEY

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
#: compose-go v2.17.0 `schema/compose-spec.json` (Apache-2.0), see tests/fixtures/README.md.
COMPOSE_SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "compose-spec.json"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


@pytest.fixture(scope="module")
def compose_spec() -> Draft202012Validator:
    schema = json.loads(COMPOSE_SPEC.read_text())
    assert schema["$schema"] == Draft202012Validator.META_SCHEMA["$id"]  # the dialect it is written in
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _spec_errors(validator: Draft202012Validator, document: dict[str, Any]) -> list[str]:
    errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]


def test_the_file_follows_the_compose_specification(
    compose: dict[str, Any], compose_spec: Draft202012Validator
) -> None:
    assert compose["name"] == "steam-platform"
    assert _spec_errors(compose_spec, compose) == []


def _unknown_service_key(doc: dict[str, Any]) -> None:
    doc["services"]["minio"]["mem_limt"] = doc["services"]["minio"].pop("mem_limit")  # a typo


def _ports_not_a_list(doc: dict[str, Any]) -> None:
    doc["services"]["minio"]["ports"] = "127.0.0.1:19000:9000"


def _unknown_top_level_key(doc: dict[str, Any]) -> None:
    doc["service"] = doc.pop("services")


def _depends_on_bad_condition(doc: dict[str, Any]) -> None:
    doc["services"]["dagster-code"]["depends_on"]["simulator"]["condition"] = "service_ready"


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (_unknown_service_key, r"services/minio: .*'mem_limt' was unexpected"),
        (_ports_not_a_list, r"services/minio/ports: .* is not of type 'array'"),
        (_unknown_top_level_key, r"<root>: 'service' does not match any of the regexes"),
        (_depends_on_bad_condition, r"services/dagster-code/depends_on: .*'service_ready'.* is not valid"),
    ],
)
def test_the_schema_rejects_a_broken_compose_file(
    compose: dict[str, Any],
    compose_spec: Draft202012Validator,
    breakage: Callable[[dict[str, Any]], None],
    expected: str,
) -> None:
    """The validation above can fail: the same document, broken one way, is rejected."""
    broken = copy.deepcopy(compose)
    breakage(broken)
    errors = _spec_errors(compose_spec, broken)
    assert any(re.search(expected, error) for error in errors), errors


def test_every_service_has_a_memory_limit(compose: dict[str, Any]) -> None:
    limits = {name: svc.get("mem_limit") for name, svc in compose["services"].items()}
    assert [name for name, limit in limits.items() if not limit] == []
    for name, limit in limits.items():
        assert re.fullmatch(r"\d+[mg]", str(limit)), f"{name}: mem_limit {limit!r} is not like 512m/2g"


def test_required_services_are_present(compose: dict[str, Any]) -> None:
    required = {
        "kafka-1", "kafka-2", "kafka-3", "minio", "elasticsearch", "kibana", "postgres",
        "prometheus", "grafana", "dagster-webserver", "dagster-daemon", "dagster-code",
        "simulator", "kafka-jmx-agent", "kafka-exporter", "spark-connect",
    }  # fmt: skip
    assert required <= set(compose["services"])


def test_kafka_is_a_three_node_kraft_cluster_with_durable_defaults(compose: dict[str, Any]) -> None:
    brokers = {n: s for n, s in compose["services"].items() if n.startswith("kafka-") and n[-1].isdigit()}
    assert len(brokers) == 3
    assert not any("zookeeper" in n for n in compose["services"])
    node_ids = {s["environment"]["KAFKA_NODE_ID"] for s in brokers.values()}
    assert node_ids == {1, 2, 3}
    for svc in brokers.values():
        env = svc["environment"]
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].count("@") == 3
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == 3
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == 2
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def _default(value: str) -> str:
    """The default of a `${VAR:-default}` compose value (the value itself when not a variable)."""
    match = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
    return match.group(1) if match else value


def test_simulator_serves_the_dagster_services_by_default(compose: dict[str, Any]) -> None:
    sim = compose["services"]["simulator"]
    command = sim["command"]
    assert command[:2] == ["steam-platform", "simulator"]
    assert command[command.index("--host") + 1] == "0.0.0.0"  # reachable from the other containers
    port = command[command.index("--port") + 1]
    assert command[command.index("--api-key") + 1] == LOCAL_API_KEY
    assert f"127.0.0.1:{port}/__sim/health" in " ".join(sim["healthcheck"]["test"])
    assert sim["image"] == compose["services"]["dagster-code"]["image"]
    for name in ("dagster-code", "dagster-webserver", "dagster-daemon"):
        env = compose["services"][name]["environment"]
        assert _default(env["STEAM_API_BASE_URL"]) == f"http://simulator:{port}"
        assert _default(env["STEAM_STORE_BASE_URL"]) == f"http://simulator:{port}"
        assert _default(env["STEAM_API_KEY"]) == LOCAL_API_KEY
    code_deps = compose["services"]["dagster-code"]["depends_on"]
    assert code_deps["simulator"] == {"condition": "service_healthy"}


def test_brokers_serve_jmx_metrics_with_the_local_stack_rules(compose: dict[str, Any]) -> None:
    brokers = {n: s for n, s in compose["services"].items() if re.fullmatch(r"kafka-\d", n)}
    targets = []
    for name, svc in brokers.items():
        agent = re.fullmatch(r"-javaagent:(\S+\.jar)=(\d+):(\S+)", svc["environment"]["KAFKA_OPTS"])
        assert agent, svc["environment"]["KAFKA_OPTS"]
        jar, port, rules = agent.groups()
        mounts = {v.split(":")[1]: v.split(":")[0] for v in svc["volumes"]}
        assert mounts[str(Path(jar).parent)] == "kafka-jmx-agent"
        assert (DEPLOY / mounts[rules]).resolve() == JMX_RULES  # the very file the local brokers use
        assert svc["depends_on"]["kafka-jmx-agent"] == {"condition": "service_completed_successfully"}
        # The health probe is a Kafka CLI: it must not start a second agent on the same port.
        assert "KAFKA_OPTS= " in svc["healthcheck"]["test"][1]
        targets.append(f"{name}:{port}")
    init = compose["services"]["kafka-jmx-agent"]
    assert "jmx_prometheus_javaagent" in init["command"][0] and init["volumes"] == ["kafka-jmx-agent:/agent"]
    prometheus = yaml.safe_load((DEPLOY / "monitoring" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in prometheus["scrape_configs"]}
    assert sorted(jobs["kafka-jmx"]) == sorted(targets)
    mounted = {v.split(":")[1]: v.split(":")[0] for v in compose["services"]["prometheus"]["volumes"]}
    assert mounted["/etc/prometheus/alerts.yml"] == "./monitoring/alerts.yml"
    assert prometheus["rule_files"] == ["alerts.yml"]  # resolved next to /etc/prometheus/prometheus.yml


def test_published_ports_bind_loopback_only(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on all interfaces"


def test_referenced_files_exist(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
    assert (DEPLOY / "Dockerfile").exists()
    assert (DEPLOY / "workspace.docker.yaml").exists()


def _docker_compose() -> str | None:
    """The `docker` CLI when it has the Compose plugin, else None."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return docker
    return None


DOCKER = _docker_compose()


@pytest.mark.skipif(
    DOCKER is None,
    reason="no `docker compose` here; the compose-spec schema test validates the file instead",
)
def test_docker_compose_config_accepts_the_file() -> None:
    assert DOCKER is not None
    result = subprocess.run(
        [DOCKER, "compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


#: Variables whose value is a credential: compose must take them from the environment, never a default.
_SECRET = re.compile(r"PASSWORD|SECRET|TOKEN")
_INTERPOLATION = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def _interpolations(compose_text: str) -> list[tuple[str, str, str]]:
    """Every `${VAR}`, `${VAR:-default}` and `${VAR:?message}` of the file: (name, operator, text)."""
    return [(m.group(1), m.group(2) or "", m.group(3) or "") for m in _INTERPOLATION.finditer(compose_text)]


def test_every_password_is_required_from_the_environment_with_a_clear_message() -> None:
    """No default password ships: compose stops, naming the variable and where to set it."""
    secrets = [
        (name, op, text) for name, op, text in _interpolations(COMPOSE.read_text()) if _SECRET.search(name)
    ]
    assert {name for name, _, _ in secrets} == {
        "DAGSTER_PG_PASSWORD",
        "MINIO_ROOT_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
    }
    for name, op, text in secrets:
        assert op == "?", f"${{{name}}} must be required (`:?`), not defaulted"
        assert name in text and "deploy/.env.example" in text, text


def test_the_env_example_lists_exactly_the_required_variables_with_no_values() -> None:
    required = {name for name, op, _ in _interpolations(COMPOSE.read_text()) if op == "?"}
    lines = [ln for ln in (DEPLOY / ".env.example").read_text().splitlines() if ln and not ln.startswith("#")]
    assert dict(ln.split("=", 1) for ln in lines) == dict.fromkeys(required, "")


def test_the_code_server_is_internal_and_health_checked(compose: dict[str, Any]) -> None:
    """gRPC has no authentication: no published port; a dead server fails its health check, and the
    webserver and daemon wait for a healthy one."""
    code = compose["services"]["dagster-code"]
    assert "ports" not in code
    assert code["restart"] == "unless-stopped"
    port = code["command"][code["command"].index("-p") + 1]
    probe = code["healthcheck"]["test"]
    assert probe[:4] == ["CMD", "dagster", "api", "grpc-health-check"]
    assert probe[probe.index("--port") + 1] == port
    for name in ("dagster-webserver", "dagster-daemon"):
        assert compose["services"][name]["depends_on"]["dagster-code"] == {"condition": "service_healthy"}
    workspace = yaml.safe_load((DEPLOY / "workspace.docker.yaml").read_text())
    server = workspace["load_from"][0]["grpc_server"]
    assert (server["host"], str(server["port"])) == ("dagster-code", port)


def test_the_health_probe_fails_without_a_code_server_and_passes_with_one(tmp_path: Path) -> None:
    """The compose probe, run for real: non-zero with nothing listening, zero against a code server."""
    from steam_devstack.health import free_port, wait_until

    dagster = Path(sys.executable).with_name("dagster")
    port = free_port()
    probe = [str(dagster), "api", "grpc-health-check", "--host", "localhost", "--port", str(port)]
    assert subprocess.run(probe, capture_output=True, timeout=60).returncode != 0
    defs = tmp_path / "defs.py"
    defs.write_text("import dagster as dg\n\ndefs = dg.Definitions(assets=[dg.AssetSpec('probe')])\n")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    server = subprocess.Popen(
        [str(dagster), "code-server", "start", "-h", "127.0.0.1", "-p", str(port), "-f", str(defs)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_until(
            lambda: subprocess.run(probe, capture_output=True, timeout=60).returncode == 0,
            what="code server healthy", timeout=90,
        )  # fmt: skip
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
    assert subprocess.run(probe, capture_output=True, timeout=60).returncode != 0  # gone: unhealthy again


def test_alerts_ship_with_prometheus_alertmanager_and_the_platform_exporter(compose: dict[str, Any]) -> None:
    """Prometheus sends to Alertmanager and scrapes the platform's exporter, both at the addresses
    compose gives them; Alertmanager reads the webhook URL from the file its command writes from the
    required environment variable (the URL never enters the config)."""
    services = compose["services"]
    prometheus = yaml.safe_load((DEPLOY / "monitoring" / "prometheus.yml").read_text())
    (alertmanager_target,) = prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in prometheus["scrape_configs"]}

    am = services["alertmanager"]
    assert alertmanager_target == "alertmanager:9093" and am["ports"] == ["127.0.0.1:9093:9093"]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in am["volumes"]}
    assert mounted["/etc/alertmanager/alertmanager.yml"] == "./monitoring/alertmanager.yml"
    config = yaml.safe_load((DEPLOY / "monitoring" / "alertmanager.yml").read_text())
    (slack,) = config["receivers"][0]["slack_configs"]
    assert "api_url" not in slack and slack["send_resolved"] is True
    command = am["command"][0]
    assert f"> {slack['api_url_file']}" in command and command.startswith("umask 077")
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in command
    assert mounted["/alertmanager"] == "alertmanager" and slack["api_url_file"].startswith("/alertmanager/")
    url = am["environment"]["STEAM_ALERT_WEBHOOK_URL"]
    assert url.startswith("${STEAM_ALERT_WEBHOOK_URL:?") and "deploy/.env.example" in url

    exporter = services["steam-metrics"]
    (target,) = jobs["steam-platform"]
    host, port = target.split(":")
    assert host == "steam-metrics" and "ports" not in exporter  # internal only
    assert exporter["command"][:3] == ["python", "-m", "steam_platform.monitoring"]
    assert exporter["command"][exporter["command"].index("--port") + 1] == port
    assert exporter["environment"]["DAGSTER_PG_HOST"] == "postgres"  # the instance the runs write to


def test_runs_attach_to_the_internal_spark_connect_service(compose: dict[str, Any], tmp_path: Path) -> None:
    """The Dagster services point runs at `spark-connect`; its command, run through the platform's
    entry point with the service's environment, yields a `local[2]` driver on the lake's MinIO."""
    connect = compose["services"]["spark-connect"]
    assert "ports" not in connect and connect["restart"] == "unless-stopped"
    command = connect["command"]
    assert command[:3] == ["python", "-m", "steam_platform.spark_connect_server"]
    port = command[command.index("--port") + 1]
    for name in ("dagster-code", "dagster-daemon", "dagster-webserver"):
        assert compose["services"][name]["environment"]["STEAM_SPARK_REMOTE"] == f"sc://spark-connect:{port}"
    assert f"('127.0.0.1', {port})" in " ".join(connect["healthcheck"]["test"])

    jar = tmp_path / "spark-sql-kafka.jar"
    jar.touch()
    env = {k: ("placeholder" if "${" in str(v) else str(v)) for k, v in connect["environment"].items()}
    conf = printed_conf(command[3:], {**env, "STEAM_SPARK_JARS": str(jar)}, tmp_path / "work")
    assert conf["spark.master"] == "local[2]" and conf["spark.connect.grpc.binding.address"] == "0.0.0.0"
    assert conf["spark.connect.grpc.binding.port"] == port
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://minio:9000"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert "placeholder" not in str(conf)  # the MinIO secret stays in the environment
