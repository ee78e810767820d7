"""The chart's Spark Connect server: what runs attach to in production, proven without a cluster.

The chart (deploy/helm/platform-infra, templates/spark-connect.yaml) renders one server in front of
the standalone cluster. Here: the platform's settings point runs at its Service; only the
platform's pods and Spark's reach it; its key pair comes from the Secret only; and its container's
command line, run for real through the platform's entry point with the environment the pod gets,
yields a driver of the chart's cluster with the chart's settings. (The same entry point serving
runs on a real standalone cluster: tests/lake/test_connect_on_cluster.py.)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from entrypoint_conf import printed_conf
from test_kubernetes_manifests import CHART, WITH_SECRETS, Manifest, by_kind, render

VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
SPARK_NAME = VALUES["spark"]["name"]
CONNECT = VALUES["spark"]["connect"]
#: The pod's address as the downward API would give it.
POD_IP = "10.42.0.7"


@pytest.fixture(scope="module")
def manifests() -> list[Manifest]:
    return render(WITH_SECRETS)


def named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    (found,) = [m for m in by_kind(manifests, kind) if m["metadata"]["name"] == name]
    return found


def platform_env(manifests: list[Manifest]) -> dict[str, str]:
    name = VALUES["platformEnv"]["name"]
    data: dict[str, str] = named(manifests, "ConfigMap", name)["data"]
    return data


def pod_labels(manifests: list[Manifest]) -> dict[str, str]:
    labels: dict[str, str] = named(manifests, "Deployment", f"{SPARK_NAME}-connect")["spec"]["template"][
        "metadata"
    ]["labels"]
    return labels


def connect_container(manifests: list[Manifest]) -> dict[str, Any]:
    deployment = named(manifests, "Deployment", f"{SPARK_NAME}-connect")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def to_bytes(quantity: str) -> int:
    """`2g`, `512m` (Spark) or `3Gi`, `768Mi` (Kubernetes) in bytes."""
    number, unit = re.fullmatch(r"([0-9]+)([a-zA-Z]*)", quantity).groups()  # type: ignore[union-attr]
    scale = {"m": 2**20, "g": 2**30, "Mi": 2**20, "Gi": 2**30, "": 1}[unit]
    return int(number) * scale


def test_runs_attach_to_the_servers_service_on_its_port(manifests: list[Manifest]) -> None:
    service = named(manifests, "Service", f"{SPARK_NAME}-connect")
    (port,) = service["spec"]["ports"]
    container = connect_container(manifests)
    (container_port,) = container["ports"]
    assert port["port"] == container_port["containerPort"] == CONNECT["port"]
    assert port["targetPort"] == container_port["name"]
    assert service["spec"]["selector"].items() <= pod_labels(manifests).items()
    remote = f"sc://{service['metadata']['name']}:{port['port']}"
    assert platform_env(manifests)["STEAM_SPARK_REMOTE"] == remote


def test_only_the_platforms_pods_and_spark_reach_the_server(manifests: list[Manifest]) -> None:
    labels = pod_labels(manifests)
    (policy,) = [
        p
        for p in by_kind(manifests, "NetworkPolicy")
        if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    ]
    peers = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    assert {"podSelector": {"matchLabels": VALUES["clientPodLabels"]}} in peers
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/name": SPARK_NAME}}} in peers
    assert all(peer.get("podSelector") for peer in peers), peers  # no namespace or IP block


def test_the_key_pair_comes_from_the_secret_and_the_driver_host_from_the_pod(
    manifests: list[Manifest],
) -> None:
    env = {e["name"]: e for e in connect_container(manifests)["env"]}
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert "value" not in env[key]
        assert env[key]["valueFrom"]["secretKeyRef"] == {
            "name": VALUES["secrets"]["name"],
            "key": key,
            "optional": True,
        }
    assert env["SPARK_DRIVER_HOST"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    command = " ".join(connect_container(manifests)["command"])
    assert "AWS_" not in command and "secret" not in command.lower()


def test_the_heap_fits_the_container_with_room_for_the_jvm_and_python(manifests: list[Manifest]) -> None:
    container = connect_container(manifests)
    env = {e["name"]: e.get("value") for e in container["env"]}
    heap = to_bytes(env["SPARK_DRIVER_MEMORY"])
    limit = to_bytes(container["resources"]["limits"]["memory"])
    assert container["resources"]["requests"]["memory"] == container["resources"]["limits"]["memory"]
    assert heap <= 0.7 * limit, (heap, limit)  # metaspace, direct buffers, bronze's Python worker


def test_the_containers_command_builds_a_driver_of_the_charts_cluster(
    manifests: list[Manifest], tmp_path: Path
) -> None:
    """The pod's command line and environment, through the platform's real entry point."""
    container = connect_container(manifests)
    jars = [tmp_path / name for name in ("spark-sql-kafka.jar", "hadoop-aws.jar")]
    for jar in jars:
        jar.touch()
    pod_env = {
        **platform_env(manifests),
        **{e["name"]: e["value"] for e in container["env"] if "value" in e},
        "SPARK_DRIVER_HOST": POD_IP,
        "STEAM_SPARK_JARS": ":".join(str(j) for j in jars),  # the image's jar folder, here
    }
    command = container["command"]
    assert command[:3] == ["python", "-m", "steam_platform.spark_connect_server"]
    conf = printed_conf(command[3:], pod_env, tmp_path / "work")
    assert conf["spark.master"] == f"spark://{SPARK_NAME}-master:7077"
    assert conf["spark.connect.grpc.binding.address"] == "0.0.0.0"
    assert conf["spark.connect.grpc.binding.port"] == str(CONNECT["port"])
    assert (conf["spark.driver.host"], conf["spark.driver.bindAddress"]) == (POD_IP, "0.0.0.0")
    assert conf["spark.driver.memory"] == CONNECT["driverMemory"]
    # A cluster's executors fetch the jars from the driver; nothing is put on a local classpath.
    assert conf["spark.jars"] == ",".join(str(j) for j in jars) and "spark.driver.extraClassPath" not in conf
    assert conf["spark.local.dir"] == str(tmp_path / "work" / "tmp")  # the last --work-dir wins
    # The catalog's folder too: the pod's working directory is the image's, not writable by it.
    assert conf["spark.sql.warehouse.dir"] == str(tmp_path / "work" / "tmp" / "warehouse")
    for key, value in CONNECT["conf"].items():
        assert conf[key] == value, key
    assert "-XX:+ExitOnOutOfMemoryError" in conf["spark.driver.extraJavaOptions"]


def test_disabled_every_run_step_is_its_own_driver_again() -> None:
    rendered = render((*WITH_SECRETS, "--set", "spark.connect.enabled=false"))
    assert not [m for m in rendered if m["metadata"]["name"] == f"{SPARK_NAME}-connect"]
    assert "STEAM_SPARK_REMOTE" not in platform_env(rendered)
