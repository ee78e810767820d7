"""deploy/helm/dagster-values.yaml, the values for Dagster's own chart, checked against the platform.

Dagster's chart itself is not rendered here (README, "Deploying to Kubernetes": its source is on
no package registry this project installs from). What can be proven offline is checked instead:

- every variable the code location needs in production (steam_platform/core/settings/) reaches the
  code server and every run: from the platform's ConfigMap (rendered from
  deploy/helm/platform-infra), its Secret, or the chart's own PostgreSQL settings; secrets only
  from the Secret; nothing that is not a platform variable;
- the code server runs the platform image's module (the one Compose and workspace.yaml load) with
  the image deploy/Dockerfile builds, the Dagster images match the pinned dagster release;
- the instance (run retries, run monitoring, concurrency) behaves as deploy/dagster.yaml does;
- the Kubernetes objects inside the values (env, volumes, resources, the run pods' container and
  Job) are valid Kubernetes, and the volumes, labels and names agree with platform-infra.
"""

from __future__ import annotations

import copy
import importlib.metadata
import posixpath
import subprocess
from pathlib import Path
from typing import Any, get_args

import kubernetes_validate
import pytest
import yaml
from pydantic import SecretStr

from steam_devstack.paths import cache_dir
from steam_platform.core.settings import Production, Settings

ROOT = Path(__file__).resolve().parents[2]
VALUES = ROOT / "deploy" / "helm" / "dagster-values.yaml"
INFRA = ROOT / "deploy" / "helm" / "platform-infra"
KUBERNETES_VERSION = "1.33"
#: The instance's PostgreSQL settings: Dagster's chart writes them into the instance it generates
#: (deploy/dagster.yaml reads them from DAGSTER_PG_* instead), the password from a Secret.
CHART_POSTGRES = {
    "DAGSTER_PG_HOST": ("postgresql", "postgresqlHost"),
    "DAGSTER_PG_PORT": ("postgresql", "service", "port"),
    "DAGSTER_PG_USER": ("postgresql", "postgresqlUsername"),
    "DAGSTER_PG_DB": ("postgresql", "postgresqlDatabase"),
    "DAGSTER_PG_PASSWORD": ("global", "postgresqlSecretName"),
}

Values = dict[str, Any]


@pytest.fixture(scope="module")
def values() -> Values:
    return yaml.safe_load(VALUES.read_text())


@pytest.fixture(scope="module")
def infra_values() -> Values:
    return yaml.safe_load((INFRA / "values.yaml").read_text())


@pytest.fixture(scope="module")
def platform_env(infra_values: Values) -> dict[str, str]:
    """The platform's ConfigMap as platform-infra renders it."""
    helm = cache_dir() / "tools" / "bin" / "helm"
    assert helm.is_file(), f"{helm} is missing: run `make install` (scripts/install_kubernetes_tools.sh)"
    proc = subprocess.run(
        [str(helm), "template", "steam", str(INFRA), "--show-only", "templates/platform-env.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    config_map = yaml.safe_load(proc.stdout)
    assert config_map["metadata"]["name"] == infra_values["platformEnv"]["name"]
    return dict(config_map["data"])


def code_server(values: Values) -> Values:
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    return deployment


def run_launcher(values: Values) -> Values:
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    return values["runLauncher"]["config"]["k8sRunLauncher"]


def dig(values: Values, path: tuple[str, ...]) -> Any:
    for key in path:
        values = values[key]
    return values


def production_kind(variable: str) -> str:
    group, field = Settings.variables()[variable]
    extra = group.model_fields[field].json_schema_extra
    assert isinstance(extra, dict)
    return str(extra["production"])


def is_secret(variable: str) -> bool:
    group, field = Settings.variables()[variable]
    annotation = group.model_fields[field].annotation
    return annotation is SecretStr or SecretStr in get_args(annotation)


def missing_variables(pod: Values, values: Values, env: dict[str, str], secret_keys: list[str]) -> list[str]:
    """Variables the production code location needs that `pod` (code server or run) does not get.

    Environment comes from ConfigMaps named in `envConfigMaps` (only the platform's is known:
    `env`), Secrets in `envSecrets` (the platform's: `secret_keys`) and `env` entries."""
    infra = yaml.safe_load((INFRA / "values.yaml").read_text())
    provided = {e["name"] for e in pod.get("env", [])}
    if {"name": infra["platformEnv"]["name"]} in pod.get("envConfigMaps", []):
        provided |= set(env)
    if {"name": infra["secrets"]["name"]} in pod.get("envSecrets", []):
        provided |= set(secret_keys)
    missing = []
    for variable in Settings.variables():
        kind = production_kind(variable)
        if kind == Production.REQUIRED.value and variable not in provided:
            missing.append(variable)
        if kind == Production.DAGSTER.value and not dig(values, CHART_POSTGRES[variable]):
            missing.append(variable)
    return missing


def test_every_variable_the_code_location_needs_reaches_the_code_server_and_the_runs(
    values: Values, infra_values: Values, platform_env: dict[str, str]
) -> None:
    secret_keys = infra_values["secrets"]["keys"]
    assert missing_variables(code_server(values), values, platform_env, secret_keys) == []
    assert missing_variables(run_launcher(values), values, platform_env, secret_keys) == []
    # The instance's password: the chart reads the Secret; it must not make one with a value from here.
    assert values["generatePostgresqlPasswordSecret"] is False and values["postgresql"]["enabled"] is False
    # Everything set is a platform variable; secrets only ever come from the Secret.
    known = Settings.variables()
    assert sorted(set(platform_env) - set(known)) == []
    assert sorted(set(secret_keys) - set(known)) == []
    assert [v for v in platform_env if is_secret(v)] == []
    # Each login is complete: SASL_SSL with the user in the ConfigMap and its password in the Secret.
    assert platform_env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL" and "KAFKA_SASL_USERNAME" in platform_env
    provided = set(platform_env) | set(secret_keys)
    for user, password in (
        ("KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"),
        ("ELASTICSEARCH_USERNAME", "ELASTICSEARCH_PASSWORD"),
        ("KIBANA_USERNAME", "KIBANA_PASSWORD"),
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    ):
        assert {user, password} <= provided and password in secret_keys
    assert platform_env["STEAM_PLATFORM_ENV"] == "production"


def test_a_missing_secret_or_configmap_is_noticed(
    values: Values, infra_values: Values, platform_env: dict[str, str]
) -> None:
    secret_keys = infra_values["secrets"]["keys"]
    without_configmap = copy.deepcopy(code_server(values))
    without_configmap["envConfigMaps"] = []
    assert {"KAFKA_BOOTSTRAP_SERVERS", "ELASTICSEARCH_URL", "LAKE_BUCKET"} <= set(
        missing_variables(without_configmap, values, platform_env, secret_keys)
    )
    no_host = copy.deepcopy(values)
    no_host["postgresql"]["postgresqlHost"] = ""
    assert missing_variables(code_server(no_host), no_host, platform_env, secret_keys) == ["DAGSTER_PG_HOST"]


def test_the_code_server_runs_the_platform_module_from_the_platform_image(
    values: Values, infra_values: Values
) -> None:
    deployment = code_server(values)
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    compose_command = compose["services"]["dagster-code"]["command"]
    module = compose_command[compose_command.index("-m") + 1]
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["python_module"]["module_name"] == module
    assert deployment["codeServerArgs"] == ["-m", module]
    assert (ROOT / Path(*module.split("."))).with_suffix(".py").is_file()
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert f"COPY {module.split('.')[0]} " in dockerfile
    # Run pods load the instance's K8sRunLauncher: the image installs dagster-k8s, at the pinned release.
    assert 'RUN pip install --no-cache-dir ".[kubernetes]"' in dockerfile
    extras = importlib.metadata.metadata("steam-platform").get_all("Requires-Dist") or []
    dagster_libs = importlib.metadata.version("dagster-postgres")
    assert f'dagster-k8s=={dagster_libs}; extra == "kubernetes"' in extras
    # The connector jars the runs hand to Spark are where the image resolves them.
    assert "ENV STEAM_PLATFORM_CACHE=/opt/dagster/cache" in dockerfile
    assert infra_values["platformEnv"]["extra"]["STEAM_SPARK_JARS"] == "/opt/dagster/cache/jars/spark"
    # Spark's workers run the same image as the drivers (the run pods).
    assert infra_values["spark"]["image"] == deployment["image"]
    # Runs take their settings from the run launcher, not the code server (whose resources would
    # replace the runs' own): test_values_agree_with_platform_infra checks both carry the same.
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is False


def test_dagster_images_and_chart_are_the_pinned_release(values: Values) -> None:
    dagster_version = importlib.metadata.version("dagster")
    assert f"--version {dagster_version}" in VALUES.read_text()
    for component in ("dagsterWebserver", "dagsterDaemon"):
        assert values[component]["image"]["tag"] == dagster_version
        assert values[component]["image"]["repository"] == "docker.io/dagster/dagster-celery-k8s"


def test_the_instance_behaves_as_deploy_dagster_yaml(values: Values) -> None:
    local = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    daemon = values["dagsterDaemon"]
    retries, monitoring = daemon["runRetries"], daemon["runMonitoring"]
    assert retries == {
        "enabled": local["run_retries"]["enabled"],
        "maxRetries": local["run_retries"]["max_retries"],
        "retryOnAssetOrOpFailure": local["run_retries"]["retry_on_asset_or_op_failure"],
    }
    assert monitoring["enabled"] is local["run_monitoring"]["enabled"] is True
    assert monitoring["startTimeoutSeconds"] == local["run_monitoring"]["start_timeout_seconds"]
    assert monitoring["cancelTimeoutSeconds"] == local["run_monitoring"]["cancel_timeout_seconds"]
    assert monitoring["maxRuntimeSeconds"] > 0
    concurrency = values["concurrency"]
    assert concurrency["enabled"] is True
    assert concurrency["runs"]["maxConcurrentRuns"] == local["concurrency"]["runs"]["max_concurrent_runs"]
    assert concurrency["pools"] == {
        "defaultLimit": local["concurrency"]["pools"]["default_limit"],
        "granularity": local["concurrency"]["pools"]["granularity"],
    }
    # The chart's `queuedRunCoordinator` block cannot carry run_queue's user-code-failure retries,
    # so the queue is declared as a custom coordinator naming Dagster's QueuedRunCoordinator.
    coordinator = daemon["runCoordinator"]
    assert coordinator["enabled"] is True and coordinator["type"] == "CustomRunCoordinator"
    queue = coordinator["config"]["customRunCoordinator"]
    assert (queue["module"], queue["class"]) == ("dagster.core.run_coordinator", "QueuedRunCoordinator")
    assert local["run_queue"].items() <= queue["config"].items()
    # Limits live in one place: Dagster refuses run limits both in the queue and under `concurrency`.
    assert not {"max_concurrent_runs", "tag_concurrency_limits", "block_op_concurrency_limited_runs"} & set(
        queue["config"]
    )
    assert values["additionalInstanceConfig"]["nux"] == local["nux"]


def pod_of(pod: Values, container: Values) -> Values:
    """A Pod with the pod-level parts of `pod` (volumes, labels) and `container`."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "check", "labels": pod.get("labels", {})},
        "spec": {"containers": [container], "volumes": pod.get("volumes", [])},
    }


def kubernetes_objects(values: Values) -> list[Values]:
    """The Kubernetes objects the chart builds from these values, as far as the values define them:
    the code server's and a run's pod, and a run's Job."""
    server, launcher = code_server(values), run_launcher(values)
    image = f"{server['image']['repository']}:{server['image']['tag']}"
    server_container = {
        "name": "dagster",
        "image": image,
        "env": server["env"],
        "resources": server["resources"],
        "volumeMounts": server["volumeMounts"],
    }
    run_k8s = launcher["runK8sConfig"]
    run_container = {
        "name": "dagster",
        "image": image,
        "volumeMounts": launcher["volumeMounts"],
        **run_k8s["containerConfig"],
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "run"},
        "spec": {
            **run_k8s["jobSpecConfig"],
            "template": {"spec": {"containers": [run_container], "restartPolicy": "Never"}},
        },
    }
    web, daemon = values["dagsterWebserver"], values["dagsterDaemon"]
    resources_only = [
        pod_of(
            {},
            {
                "name": name,
                "image": f"{part['image']['repository']}:{part['image']['tag']}",
                "resources": part["resources"],
            },
        )
        for name, part in (("webserver", web), ("daemon", daemon))
    ]
    return [pod_of(server, server_container), pod_of(launcher, run_container), job, *resources_only]


def kubernetes_errors(objects: list[Values]) -> list[str]:
    errors = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{obj['kind']}: {'.'.join(map(str, exc.absolute_path))}: {exc.message}")
    return errors


def test_the_kubernetes_parts_of_the_values_are_valid_kubernetes(values: Values) -> None:
    assert kubernetes_errors(kubernetes_objects(values)) == []
    # Every run asks for memory and is capped; a crashed run is Dagster's to retry, not the Job's.
    resources = run_launcher(values)["runK8sConfig"]["containerConfig"]["resources"]
    assert resources["requests"]["memory"] and resources["limits"]["memory"]
    assert run_launcher(values)["runK8sConfig"]["jobSpecConfig"]["backoffLimit"] == 0


def test_invalid_kubernetes_in_the_values_is_rejected(values: Values) -> None:
    broken = copy.deepcopy(values)
    config = run_launcher(broken)["runK8sConfig"]["containerConfig"]
    config["resource"] = config.pop("resources")
    code_server(broken)["volumes"][0]["secret"]["secretname"] = "typo"
    errors = kubernetes_errors(kubernetes_objects(broken))
    assert any("resource" in e for e in errors) and any("secretname" in e for e in errors)


def test_values_agree_with_platform_infra(
    values: Values, infra_values: Values, platform_env: dict[str, str]
) -> None:
    server, launcher = code_server(values), run_launcher(values)
    for key in ("envConfigMaps", "envSecrets", "volumes", "volumeMounts", "labels"):
        assert server[key] == launcher[key], key
    for pod in (server, launcher):
        # The label the NetworkPolicies and Kafka's listener admit.
        assert pod["labels"] == infra_values["clientPodLabels"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["name"]: m["mountPath"] for m in pod["volumeMounts"]}
        # Strimzi's cluster CA, where KAFKA_SSL_CA_LOCATION expects it.
        ca = volumes["kafka-cluster-ca"]["secret"]
        assert ca["secretName"] == f"{infra_values['kafka']['name']}-cluster-ca-cert"
        assert (
            posixpath.join(mounts["kafka-cluster-ca"], ca["items"][0]["path"])
            == platform_env["KAFKA_SSL_CA_LOCATION"]
        )
        # The shared Steam budget.
        assert (
            volumes["steam-state"]["persistentVolumeClaim"]["claimName"]
            == infra_values["steamState"]["claimName"]
        )
        assert (
            mounts["steam-state"]
            == platform_env["STEAM_BUDGET_STATE_DIR"]
            == infra_values["steamState"]["mountPath"]
        )
        # The driver's address for Spark's executors is the pod's own.
        env = pod.get("env") or pod["runK8sConfig"]["containerConfig"]["env"]
        assert {"name": "SPARK_DRIVER_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}} in env
