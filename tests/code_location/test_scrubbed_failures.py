"""Credentials never reach the event log: failing steps, log lines, Pipes messages and metadata.

Each test materialises assets on a real Dagster instance (its own storage folder) and then
searches everything the run left: the event log as Dagster serialises it (messages, error info
with causes and stack, metadata) and every file of the instance's storage (event and run
databases, captured compute logs). The platform's own assets fail against real clients on
unreachable endpoints (a free port, a listener that speaks no TLS) with secrets in their resources;
a control run of unwrapped assets shows the same search finds a secret that was not scrubbed.
"""

import socket
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import pytest
from dagster._core.definitions.decorators.op_decorator import DecoratedOpFunction
from dagster._serdes import serialize_value

from steam_devstack.health import free_port
from steam_platform.assets.bus.topics import kafka_topics
from steam_platform.assets.search.assets import search_game_daily
from steam_platform.assets.warehouse.assets import dim_app
from steam_platform.core.redaction import redact
from steam_platform.core.scrubbed_steps import (
    definition_ops,
    is_scrubbed,
    resource_secrets,
    scrub_definitions,
    settings_secrets,
)
from steam_platform.definitions import defs
from steam_platform.resources.elasticsearch import ElasticsearchResource
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.s3 import S3Resource

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: A partition of the daily assets (the run fails long before data matters).
DAY = dim_app.partitions_def.get_last_partition_key() if dim_app.partitions_def else None
S3_SECRET = "S3-Secret-Key-7f3a9c1e5b"
ES_API_KEY = "ES-Api-Key-2d8b6e0a4f"
KAFKA_PASSWORD = "Kafka-Sasl-Pass-9c4e1a7b3d"
SPARK_S3A_SECRET = "Spark-S3a-Secret-5a1f8d2c6e"
#: Secrets of the control assets: one known from a resource field, one only in a URL's userinfo,
#: one only in an `Authorization` header.
RESOURCE_SECRET = "Resource-Field-Secret-3e7c"
URL_SECRET = "Url-Userinfo-Secret-8b2d"
HEADER_SECRET = "Header-Bearer-Secret-6f1a"


def run_leftovers(instance: dg.DagsterInstance, run_id: str, storage: Path) -> str:
    """Everything the run left: its serialised event log and every stored file (compute logs too)."""
    events = "\n".join(serialize_value(entry) for entry in instance.all_logs(run_id))
    files = "\n".join(
        path.read_bytes().decode("latin-1") for path in sorted(storage.rglob("*")) if path.is_file()
    )
    return f"{events}\n{files}"


def failure_descriptions(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The step failures' messages (user failure description, else the error message)."""
    found = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        assert entry.dagster_event is not None
        data = entry.dagster_event.step_failure_data
        user = data.user_failure_data
        found.append(user.description if user and user.description else data.error.message)
    return found


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """A real Dagster instance whose whole storage (runs, events, compute logs) is `tmp_path`."""
    with dg.instance_for_test(temp_dir=str(tmp_path)) as inst:
        yield inst


@pytest.fixture
def no_retry_delays(monkeypatch: pytest.MonkeyPatch) -> None:
    """The assets' retry policies wait 30 s before a retry: off here, a failure is final."""
    for asset in (kafka_topics, search_game_daily, dim_app):
        monkeypatch.setattr(asset.op, "_retry_policy", None)


@pytest.fixture
def no_tls_listener() -> Iterator[int]:
    """A port that answers every connection with plain text: a TLS client's handshake fails at once."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)  # accept wakes up to see `stop`
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" * 8)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def unreachable_s3(bucket: str = "scrub-test") -> S3Resource:
    """An S3 store on a free port, its endpoint carrying the key pair as userinfo."""
    return S3Resource(
        endpoint_url=f"http://AKIASCRUBTEST:{S3_SECRET}@127.0.0.1:{free_port()}",
        region="us-east-1",
        access_key_id="AKIASCRUBTEST",
        secret_access_key=S3_SECRET,
        bucket=bucket,
        path_style=True,
    )


def test_every_op_of_the_code_location_runs_scrubbed() -> None:
    ops = list(definition_ops(defs))
    assert ops and all(is_scrubbed(op) for op in ops)
    job_ops = [op for job in defs.resolve_all_job_defs() for op in job.graph.iterate_op_defs()]
    assert job_ops and [op.name for op in job_ops if not is_scrubbed(op)] == []


def test_redact_masks_url_userinfo_and_authorization_headers_by_shape() -> None:
    text = (
        f"sasl_ssl://steam:{URL_SECRET}@127.0.0.1:9092, sasl_ssl://[steam:{URL_SECRET}@h:1]:9092, "
        f"{{'Authorization': 'Bearer {HEADER_SECRET}'}}, Authorization: ApiKey {HEADER_SECRET}; "
        "s3a://steam-lake/lake user@example.com http://[::1]:9200/"
    )
    cleaned = redact(text)
    assert URL_SECRET not in cleaned and HEADER_SECRET not in cleaned
    assert "sasl_ssl://***@127.0.0.1:9092" in cleaned and "'Bearer ***'" in cleaned
    assert "s3a://steam-lake/lake user@example.com http://[::1]:9200/" in cleaned


def test_the_secrets_of_the_platforms_resources_are_known(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every secret field of the resources (nested ones and Spark's conf too) and every secret
    setting is a secret the scrubber masks; what is not secret is not collected."""
    from steam_platform.resources.kibana import KibanaResource
    from steam_platform.resources.spark import build_pyspark_resource
    from steam_platform.resources.steam_api import SteamApiResource

    resources = [
        unreachable_s3(),
        KafkaResource(bootstrap_servers="127.0.0.1:1", sasl_username="steam", sasl_password=KAFKA_PASSWORD),
        ElasticsearchResource(url="http://127.0.0.1:1", api_key=ES_API_KEY),
        KibanaResource(url="http://127.0.0.1:2", username="elastic", password=HEADER_SECRET),
        SteamApiResource(api_base_url="http://127.0.0.1:3", api_key=URL_SECRET),
        build_pyspark_resource(
            unreachable_s3(), jars=[], extra_conf={"spark.hadoop.fs.s3a.secret.key": SPARK_S3A_SECRET}
        ),
    ]
    assert resource_secrets(resources) == {
        S3_SECRET,
        KAFKA_PASSWORD,
        ES_API_KEY,
        HEADER_SECRET,
        URL_SECRET,
        SPARK_S3A_SECRET,
    }
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", RESOURCE_SECRET)
    assert RESOURCE_SECRET in settings_secrets()


class Vault(dg.ConfigurableResource):
    """A resource holding a secret, as the platform's clients do."""

    password: str


PIPES_SCRIPT = textwrap.dedent(
    """
    import os
    from dagster_pipes import open_dagster_pipes

    with open_dagster_pipes() as pipes:
        secret = os.environ["VAULT_SECRET"]
        pipes.log.info(f"external step logged in with {secret}")
        pipes.report_asset_materialization(metadata={"login": f"user {secret}"})
    """
)


def leaky_assets(script: Path) -> list[dg.AssetsDefinition]:
    """Two assets that put secrets everywhere a step can: log lines, Pipes messages, metadata, and
    a failure whose message, cause and source line carry them."""

    @dg.asset
    def leaky_report(context: dg.AssetExecutionContext, vault: Vault) -> dg.MaterializeResult:
        context.log.info(f"GET /_cluster/health Authorization: Bearer {HEADER_SECRET}")
        pipes = dg.PipesSubprocessClient()
        result = pipes.run(
            context=context, command=[sys.executable, str(script)], env={"VAULT_SECRET": vault.password}
        ).get_materialize_result()
        return dg.MaterializeResult(
            metadata={**(result.metadata or {}), "endpoint": f"http://steam:{URL_SECRET}@127.0.0.1:1"}
        )

    # Retried once, as the platform's steps are: the retry's event carries the error too.
    @dg.asset(deps=[leaky_report], retry_policy=dg.RetryPolicy(max_retries=1))
    def leaky_failure(vault: Vault) -> None:
        try:
            raise ConnectionError(f"connect to http://steam:{URL_SECRET}@127.0.0.1:1 refused")
        except ConnectionError as exc:
            raise RuntimeError(f"login with {vault.password} refused") from exc

    return [leaky_report, leaky_failure]


@pytest.mark.parametrize("scrub", [False, True], ids=["unscrubbed-control", "scrubbed"])
def test_log_lines_pipes_metadata_and_failure_chains_are_scrubbed(
    scrub: bool, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    script = tmp_path / "leaky_pipes.py"
    script.write_text(PIPES_SCRIPT)
    assets = leaky_assets(script)
    if scrub:
        scrub_definitions(dg.Definitions(assets=assets))
    result = dg.materialize(
        assets, resources={"vault": Vault(password=RESOURCE_SECRET)}, instance=instance, raise_on_error=False
    )
    assert not result.success
    left = run_leftovers(instance, result.run_id, tmp_path)
    secrets = (RESOURCE_SECRET, URL_SECRET, HEADER_SECRET)
    if not scrub:  # the search finds what nothing scrubbed: every secret is there
        assert [s for s in secrets if s not in left] == []
        return
    assert [s for s in secrets if s in left] == []
    retries = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)
    assert len(retries) == 1
    # What failed is still said, with the chain of causes.
    [failure] = failure_descriptions(instance, result.run_id)
    assert "RuntimeError: login with *** refused" in failure
    assert "caused by ConnectionError: connect to http://***@127.0.0.1:1 refused" in failure
    materialized = instance.get_latest_materialization_event(dg.AssetKey("leaky_report"))
    assert materialized is not None and materialized.asset_materialization is not None
    metadata = materialized.asset_materialization.metadata
    assert metadata["login"].value == "user ***" and metadata["endpoint"].value == "http://***@127.0.0.1:1"


def materialize_failing(
    asset: dg.AssetsDefinition, resources: dict[str, Any], instance: dg.DagsterInstance, **kwargs: Any
) -> dg.ExecuteInProcessResult:
    result = dg.materialize([asset], resources=resources, instance=instance, raise_on_error=False, **kwargs)
    assert not result.success
    return result


@pytest.mark.usefixtures("no_retry_delays")
def test_kafka_failure_keeps_the_sasl_password_out(
    instance: dg.DagsterInstance, tmp_path: Path, no_tls_listener: int
) -> None:
    kafka = KafkaResource(
        bootstrap_servers=f"127.0.0.1:{no_tls_listener}",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="steam",
        sasl_password=KAFKA_PASSWORD,
    )
    result = materialize_failing(kafka_topics, {"kafka": kafka}, instance)
    assert KAFKA_PASSWORD not in run_leftovers(instance, result.run_id, tmp_path)
    [failure] = failure_descriptions(instance, result.run_id)
    assert "TLS handshake" in failure


@pytest.mark.usefixtures("no_retry_delays")
def test_elasticsearch_and_s3_failure_keeps_api_key_and_secret_key_out(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    es = ElasticsearchResource(
        url=f"http://127.0.0.1:{free_port()}",
        api_key=ES_API_KEY,
        request_timeout=2,
        max_retries=0,
        retry_attempts=1,
    )
    result = materialize_failing(
        search_game_daily, {"elasticsearch": es, "s3": unreachable_s3()}, instance, partition_key=DAY
    )
    left = run_leftovers(instance, result.run_id, tmp_path)
    assert [s for s in (ES_API_KEY, S3_SECRET) if s in left] == []
    [failure] = failure_descriptions(instance, result.run_id)
    assert "Elasticsearch at http://127.0.0.1:" in failure


@pytest.fixture
def restored_hadoop_conf(spark_session: "SparkSession") -> Iterator[Callable[[list[str]], None]]:
    """Remember Hadoop settings of the shared session before a test changes them; restore them after."""
    hadoop = spark_session.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    saved: dict[str, str | None] = {}

    def remember(keys: list[str]) -> None:
        for key in keys:
            saved.setdefault(key, hadoop.get(key))

    yield remember
    for key, value in saved.items():
        if value is None:
            hadoop.unset(key)
        else:
            hadoop.set(key, value)


@pytest.mark.usefixtures("no_retry_delays")
def test_spark_failure_keeps_the_s3a_secret_out(
    instance: dg.DagsterInstance,
    tmp_path: Path,
    spark_session: "SparkSession",
    restored_hadoop_conf: Callable[[list[str]], None],
) -> None:
    from steam_devstack.services.spark import connector_jars
    from steam_platform.resources.spark import build_pyspark_resource

    bucket = "scrub-spark-test"
    s3 = unreachable_s3(bucket)
    per_bucket = f"spark.hadoop.fs.s3a.bucket.{bucket}"
    pyspark = build_pyspark_resource(
        s3,
        jars=[str(p) for p in connector_jars()],
        extra_conf={
            f"{per_bucket}.secret.key": SPARK_S3A_SECRET,
            # Fail fast on the refused connection: one attempt, no retries.
            "spark.hadoop.fs.s3a.attempts.maximum": "1",
            "spark.hadoop.fs.s3a.retry.limit": "0",
        },
    )
    conf_keys = [
        k.removeprefix("spark.hadoop.") for k in pyspark.session_conf() if k.startswith("spark.hadoop.")
    ]
    restored_hadoop_conf([*conf_keys, *s3.spark_credentials()])
    result = materialize_failing(dim_app, {"pyspark": pyspark, "s3": s3}, instance, partition_key=DAY)
    left = run_leftovers(instance, result.run_id, tmp_path)
    assert [s for s in (SPARK_S3A_SECRET, S3_SECRET) if s in left] == []
    [failure] = failure_descriptions(instance, result.run_id)
    assert f"s3a://{bucket}/" in failure


def test_unwrapped_op_is_detected() -> None:
    """The guard above would notice an op whose compute function is not wrapped."""
    op = dg.op(name="bare")(lambda: None)
    assert not is_scrubbed(op)
    assert isinstance(op.compute_fn, DecoratedOpFunction)


def test_an_async_op_is_refused_until_it_can_be_scrubbed() -> None:
    """No async op exists; one added later fails loudly instead of running unscrubbed."""
    from steam_platform.core.scrubbed_steps import scrubbed

    async def fetch() -> None: ...

    with pytest.raises(TypeError, match="async compute functions are not scrubbed yet"):
        scrubbed(fetch)


#: A stand-in for `spark-submit`: prints its credentials to stdout and stderr, as a conf dump or a
#: connector error would, plus a plain line, then fails.
LEAKY_SUBMIT = textwrap.dedent(
    f"""
    import os, sys
    print("batch 1 written to the lake", flush=True)
    print("spark.hadoop.fs.s3a.secret.key " + os.environ["AWS_SECRET_ACCESS_KEY"], flush=True)
    print("s3a://steam:{URL_SECRET}@127.0.0.1:1 refused", flush=True)
    print("ERROR SASL login with " + os.environ["KAFKA_SASL_PASSWORD"] + " failed", file=sys.stderr)
    sys.exit(3)
    """
)


@pytest.mark.parametrize("scrub", [False, True], ids=["unscrubbed-control", "scrubbed"])
def test_spark_submits_stdout_and_stderr_reach_the_logs_scrubbed(
    scrub: bool,
    instance: dg.DagsterInstance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The platform's `pipes_subprocess` client relays the child's output through the scrubber:
    a secret the child got from the run (`env=`), one from the settings, one by shape. Searched:
    the run's leftovers (compute logs) and the run process's own stdout and stderr, where a child
    writing to inherited descriptors lands (the stack's service logs)."""
    from steam_platform.resources.spark import build_pipes_client

    monkeypatch.setenv("KAFKA_SASL_PASSWORD", KAFKA_PASSWORD)  # a setting: the child inherits it
    script = tmp_path / "leaky_submit.py"
    script.write_text(LEAKY_SUBMIT)
    client = build_pipes_client(jars=[]) if scrub else dg.PipesSubprocessClient()

    @dg.asset
    def submitted(context: dg.AssetExecutionContext, pipes_subprocess: dg.PipesSubprocessClient) -> None:
        pipes_subprocess.run(
            context=context,
            command=[sys.executable, str(script)],
            env={"AWS_SECRET_ACCESS_KEY": SPARK_S3A_SECRET},
        )

    result = materialize_failing(submitted, {"pipes_subprocess": client}, instance)
    out, err = capfd.readouterr()
    left = "\n".join([run_leftovers(instance, result.run_id, tmp_path / "storage"), out, err])
    assert "batch 1 written to the lake" in left  # the search sees the child's output
    secrets = (SPARK_S3A_SECRET, KAFKA_PASSWORD, URL_SECRET)
    if not scrub:  # the search finds what nothing scrubbed
        assert [s for s in secrets if s not in left] == []
        return
    assert [s for s in secrets if s in left] == []
    assert "ERROR SASL login with *** failed" in left and "s3a://***@127.0.0.1:1 refused" in left
