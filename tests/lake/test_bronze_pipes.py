"""Continuous bronze via Pipes, without servers: the launch command, its environment, the fallbacks."""

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dagster as dg
import pytest

from steam_platform.assets.lake.continuous import (
    BRONZE_SCRIPT,
    BronzeContinuousConfig,
    bronze_asset_for,
    submit_command,
    submit_env,
)
from steam_platform.core import sources
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.s3 import S3Resource
from streaming.bronze import BronzeJob, _await_idle_or_timeout, kafka_options_from_env, parse_args
from streaming.bronze_pipes import EXTRA_ASSET_KEY, PipesProgress, pipes_progress
from streaming.bronze_stats import BatchStats, BronzeStats, stats_as_dict
from streaming.environment import BRONZE_KAFKA_OPTIONS_ENV
from streaming.hadoop_fs import FileStats

SECRET = "s3-secret-value-0123456789"
NEWS = sources.NEWS.topic
SASL_PASSWORD = "sasl-password-0123456789"


def test_the_command_is_a_bounded_continuous_submit_and_secrets_travel_only_in_the_env(
    tmp_path: Path,
) -> None:
    jar = tmp_path / "spark-sql-kafka.jar"
    jar.write_bytes(b"")
    s3 = S3Resource(
        endpoint_url="http://127.0.0.1:19000", access_key_id="AKID", secret_access_key=SECRET, bucket="b"
    )
    kafka = KafkaResource(
        bootstrap_servers="k:9092",
        security_protocol="SASL_SSL",
        sasl_mechanism="PLAIN",
        sasl_username="u",
        sasl_password=SASL_PASSWORD,
    )
    config = BronzeContinuousConfig(topic=NEWS, interval="30 seconds", stop_after_s=90)
    command = submit_command(
        config,
        {"STEAM_SPARK_JARS": str(tmp_path), "SPARK_MASTER": "local[1]", "SPARK_DRIVER_MEMORY": "512m"},
        bootstrap=kafka.bootstrap_servers,
        lake_root=s3.lake_root(),
    )
    env = submit_env(s3, kafka)

    assert command[command.index("--jars") + 1] == str(jar)
    assert command[command.index("--master") + 1] == "local[1]"
    assert str(BRONZE_SCRIPT) in command
    args = parse_args(command[command.index(str(BRONZE_SCRIPT)) + 1 :])
    assert (args.topic, args.continuous, args.interval, args.timeout_s) == (
        NEWS,
        True,
        "30 seconds",
        90.0,
    )
    assert args.lake_root == "s3a://b/lake" and args.bootstrap == "k:9092"
    assert not any(SECRET in part or SASL_PASSWORD in part for part in command)
    assert env["AWS_SECRET_ACCESS_KEY"] == SECRET and env["S3_ENDPOINT_URL"] == "http://127.0.0.1:19000"
    options = kafka_options_from_env(env)
    assert options["kafka.security.protocol"] == "SASL_SSL"
    assert SASL_PASSWORD in options["kafka.sasl.jaas.config"]


def test_an_unbounded_run_has_no_timeout_and_needs_jars(tmp_path: Path) -> None:
    config = BronzeContinuousConfig()
    command = submit_command(
        config, {"STEAM_SPARK_JARS": str(tmp_path / "a.jar")}, bootstrap="k", lake_root="r"
    )
    assert "--timeout-s" not in command and "--continuous" in command
    with pytest.raises(dg.Failure, match="STEAM_SPARK_JARS"):
        submit_command(config, {}, bootstrap="k", lake_root="r")


def test_the_reported_asset_is_the_topics_bronze_asset_unless_named() -> None:
    assert bronze_asset_for(NEWS) == "bronze_news"
    assert bronze_asset_for(sources.PLAYER_COUNTS.topic) == "bronze_player_counts"
    assert bronze_asset_for("other.topic", "bronze_custom") == "bronze_custom"
    with pytest.raises(dg.Failure, match="asset_key"):
        bronze_asset_for("other.topic")


def test_without_pipes_the_job_reports_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_PIPES_CONTEXT", raising=False)
    monkeypatch.delenv("DAGSTER_PIPES_MESSAGES", raising=False)
    with pipes_progress() as progress:
        assert progress is None


def test_kafka_options_env_must_be_a_json_object() -> None:
    assert kafka_options_from_env({}) == {}
    assert kafka_options_from_env({BRONZE_KAFKA_OPTIONS_ENV: '{"kafka.security.protocol": "SSL"}'}) == {
        "kafka.security.protocol": "SSL"
    }
    with pytest.raises(ValueError, match=BRONZE_KAFKA_OPTIONS_ENV):
        kafka_options_from_env({BRONZE_KAFKA_OPTIONS_ENV: '["SSL"]'})


class _FakePipes:
    """The part of `dagster_pipes.PipesContext` that `PipesProgress` uses, recording what it gets."""

    def __init__(self, extras: dict[str, Any]) -> None:
        self.extras = extras
        self.lines: list[str] = []
        self.log = SimpleNamespace(info=self.lines.append)
        self.materializations: list[tuple[str, dict[str, Any]]] = []
        self.messages: list[Any] = []

    def report_asset_materialization(self, *, metadata: dict[str, Any], asset_key: str) -> None:
        self.materializations.append((asset_key, metadata))

    def report_custom_message(self, payload: Any) -> None:
        self.messages.append(payload)


def test_progress_logs_each_batch_and_materializes_the_totals() -> None:
    stats = BronzeStats(
        topic=NEWS,
        rows_landed=7,
        rows_quarantined=1,
        batches=[3, 4],
        offsets={0: {"from": 10, "to": 18, "records": 8}},
        files=FileStats(2, 2048),
        duration_s=1.5,
    )
    pipes = _FakePipes({EXTRA_ASSET_KEY: "bronze_news"})
    progress = PipesProgress(pipes)  # type: ignore[arg-type]
    progress.batch_landed(NEWS, 3, BatchStats(rows=7, quarantined=1, offsets={0: (10, 18, 8)}))
    progress.finished(stats, path=f"s3a://b/lake/bronze/{NEWS}", interval="1 minute")

    assert pipes.lines[0] == f"{NEWS} batch 3: landed 7 rows, quarantined 1; offsets [p0: 10..18 (8)]"
    [(asset_key, metadata)] = pipes.materializations
    assert asset_key == "bronze_news" and not pipes.messages
    assert metadata["records_read"] == 8 and metadata["offset_span"] == 8 and metadata["batches"] == 2
    assert metadata["trigger"] == "processingTime=1 minute" and metadata["bytes_written"] == 2048
    assert stats_as_dict(stats)["offsets"] == {"0": {"from": 10, "to": 18, "records": 8}}

    unnamed = _FakePipes({})
    PipesProgress(unnamed).finished(stats, path="p", interval=None)  # type: ignore[arg-type]
    assert unnamed.materializations == []
    assert unnamed.messages[0]["bronze_run"]["trigger"] == "availableNow"


def test_a_remote_cluster_gets_the_drivers_reachable_address(tmp_path: Path) -> None:
    """With `SPARK_DRIVER_HOST` (executors on other hosts), spark-submit advertises and binds the
    driver there; without it the loopback defaults stay (local[2] or the local stack's cluster)."""
    (tmp_path / "k.jar").write_bytes(b"")
    launch = {"STEAM_SPARK_JARS": str(tmp_path), "SPARK_MASTER": "spark://spark-master:7077"}
    plain = submit_command(BronzeContinuousConfig(), launch, bootstrap="k", lake_root="r")
    assert "--conf" not in plain
    remote = submit_command(
        BronzeContinuousConfig(), {**launch, "SPARK_DRIVER_HOST": "10.0.0.5"}, bootstrap="k", lake_root="r"
    )
    confs = {remote[i + 1] for i, part in enumerate(remote) if part == "--conf"}
    assert confs == {"spark.driver.host=10.0.0.5", "spark.driver.bindAddress=10.0.0.5"}
    assert remote.index("--conf") < remote.index(str(BRONZE_SCRIPT))


def test_a_catch_up_run_passes_its_idle_stop_to_the_job(tmp_path: Path) -> None:
    (tmp_path / "spark-sql-kafka.jar").write_bytes(b"")
    config = BronzeContinuousConfig(interval="2 seconds", stop_after_s=300, stop_when_idle_s=15)
    command = submit_command(
        config, {"STEAM_SPARK_JARS": str(tmp_path)}, bootstrap="k:9092", lake_root="s3a://b/lake"
    )
    args = parse_args(command[command.index(str(BRONZE_SCRIPT)) + 1 :])
    assert (args.timeout_s, args.idle_stop_s) == (300.0, 15.0)
    assert parse_args(["--topic", "t", "--bootstrap", "k", "--lake-root", "r"]).idle_stop_s is None


class _Query:
    """A running streaming query as `run_bronze` waits on it: never ends by itself."""

    def __init__(self, trigger_active_for: int = 0) -> None:
        self.waits = 0
        self.trigger_active_for = trigger_active_for

    def awaitTermination(self, timeout: int) -> bool:
        self.waits += 1
        return False

    @property
    def status(self) -> dict[str, object]:
        return {"isTriggerActive": self.waits <= self.trigger_active_for}


def _job(**kwargs: Any) -> BronzeJob:
    return BronzeJob(
        topic="t", bootstrap_servers="k", lake_root="r", continuous_interval="1 second", **kwargs
    )


def test_idle_stop_waits_for_a_first_batch_and_for_the_running_one() -> None:
    now = time.monotonic()
    # Nothing landed yet: only the overall timeout ends the wait, however long the topic is quiet.
    never_landed = _Query()
    assert _await_idle_or_timeout(never_landed, _job(idle_stop_s=0.001, timeout_s=0.5), now, []) is False
    assert never_landed.waits >= 1
    # Idle since the last batch, but a trigger is running: wait for it before stopping.
    busy = _Query(trigger_active_for=3)
    assert _await_idle_or_timeout(busy, _job(idle_stop_s=0.001, timeout_s=None), now, [now - 1]) is False
    assert busy.waits == 4
