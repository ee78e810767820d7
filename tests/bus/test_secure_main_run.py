"""The README's main command against the authenticated three-node cluster:

    steam-platform run --state-dir DIR --brokers 3 --kafka-security sasl_ssl

run as its own process (as a newcomer runs it) in the shared cluster's state folder, whose Kafka is already
up: it starts the other servers, then materialises every layer. Every Kafka client of the run logs
in with SCRAM over TLS: the ingest producer and admin client, and Spark's Kafka source, whose
landing must reconcile with what the topics hold. The password appears nowhere in the output.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from steam_devstack.kafka_drill import stack_kafka
from steam_devstack.paths import REPO_ROOT
from steam_devstack.stack import LocalStack
from steam_platform.assets.bus.audit import read_topic
from steam_platform.core import sources

pytestmark = [pytest.mark.kafka_security, pytest.mark.integration]

#: The main run takes minutes (Elasticsearch and PostgreSQL start, eight runs, Spark); bounded.
RUN_TIMEOUT_S = 1200
#: Variables of a developer's shell or of other tests that would point the run elsewhere.
FOREIGN = re.compile(
    r"^(KAFKA_|S3_|AWS_|ELASTICSEARCH_|KIBANA_|DAGSTER_|SPARK_|LAKE_BUCKET$|STEAM_API_|STEAM_STORE_|"
    r"STEAM_STACK_DIR$|STEAM_SPARK_JARS$|STEAM_PLATFORM_ENV$|STEAM_BUDGET_STATE_DIR$)"
)


def _run_main(state: Path, log: Path) -> int:
    """`steam-platform run ...` in its own process group; SIGINT (then SIGKILL) if it overruns."""
    env = {k: v for k, v in os.environ.items() if not FOREIGN.match(k)}
    cmd = [
        sys.executable, "-m", "steam_devstack.cli", "run",
        "--state-dir", str(state), "--brokers", "3", "--kafka-security", "sasl_ssl",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            return proc.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGINT)  # the lake stage holds SIGINT for ~45 s
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
            raise


def _latest_metadata(state: Path, stack_env: dict[str, str], asset: str) -> dict[str, object]:
    """Metadata of `asset`'s latest materialisation in the run's Postgres-backed instance."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in stack_env.items():
            if key.startswith("DAGSTER_PG_"):
                mp.setenv(key, value)
        with dg.DagsterInstance.from_config(str(state / "dagster_home")) as instance:
            event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    assert event is not None and event.asset_materialization is not None, asset
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


@pytest.mark.timeout(RUN_TIMEOUT_S + 300)
def test_the_main_command_runs_end_to_end_against_the_sasl_ssl_cluster(
    kafka_cluster: LocalStack, tmp_path: Path
) -> None:
    state = kafka_cluster.state_dir
    log = tmp_path / "main-run.log"  # kept by pytest after the stack folder is gone

    code = _run_main(state, log)

    output = log.read_text(errors="replace")
    tail = "\n".join(output.splitlines()[-40:])
    password = kafka_cluster.endpoints()["KAFKA_SASL_PASSWORD"]
    leaked = password in output
    assert not leaked, "the Kafka password is in the main run's output"
    assert code == 0, tail
    assert "pipeline SUCCESS" in output, tail
    assert re.search(r"Kafka: \S+ \(SASL_SSL, SCRAM-SHA-512 user 'steam', CA \S+ca\.pem\)", output), tail
    runs = re.findall(r"run \S+: (ok|FAILED) in", output)
    assert runs and set(runs) == {"ok"}, tail

    # What the producer delivered over SASL_SSL is what Spark's Kafka source (SCRAM + PEM trust
    # store) landed in bronze: every record of the topic, each offset once.
    env = LocalStack(state).endpoints()
    readout = read_topic(stack_kafka(kafka_cluster), sources.PLAYER_COUNTS.topic, timeout_s=120)
    assert readout.complete and readout.records > 0
    ingest = _latest_metadata(state, env, "player_counts")
    assert int(str(ingest["events_total"])) > 0
    bronze = _latest_metadata(state, env, "bronze_player_counts")
    assert int(str(bronze["rows_landed"])) + int(str(bronze["rows_quarantined"])) == readout.records
    assert bronze["rows_quarantined"] == 0
