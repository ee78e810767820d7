"""The Spark Connect server as an optional service of the local stack, and its supervisor.

Without a JVM (the real server runs in `tests/lake/test_lake_pipeline.py`): the supervisor starts a
killed child again (and not after it is told to stop), its backoff grows and resets; the server's
conf, as the platform's entry point builds it from the stack's environment, binds 127.0.0.1, caps
the driver and carries no secret on its command line or in its conf; the server is on by default,
`stack.json` keeps the `--[no-]spark-connect` choice, and the stack's env then points runs at the
server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from entrypoint_conf import printed_conf

from steam_devstack.health import poll
from steam_devstack.services import s3 as s3_service
from steam_devstack.services.registry import SPARK_CONNECT
from steam_devstack.services.spark_connect import REMOTE_ENV, SparkConnectService
from steam_devstack.stack import LocalStack
from steam_devstack.supervisor import RestartPolicy, supervise
from streaming.envelope_parse import SESSION_EXTENSIONS
from streaming.environment import DEFAULT_DRIVER_MEMORY

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def test_supervisor_starts_a_killed_server_again_and_stops_when_told() -> None:
    started: list[subprocess.Popen[bytes]] = []
    stop = threading.Event()
    policy = RestartPolicy(min_backoff_s=0.2, max_backoff_s=1.0)
    result: list[int] = []

    def run() -> None:
        result.append(supervise(SLEEPER, stop, policy=policy, on_start=started.append, say=str))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert poll(lambda: len(started) == 1, timeout=10, interval=0.05)
        os.kill(started[0].pid, signal.SIGKILL)
        assert poll(lambda: len(started) == 2, timeout=10, interval=0.05)
        assert started[1].pid != started[0].pid and started[1].poll() is None
    finally:
        stop.set()
        thread.join(40)
    assert result == [1]  # one restart, then the stop: nothing started again
    assert started[-1].poll() is not None  # the running child was ended with the supervisor


def test_backoff_doubles_while_the_server_dies_young_and_resets_after_a_long_run() -> None:
    policy = RestartPolicy(min_backoff_s=1, max_backoff_s=30, healthy_after_s=60)
    waits, previous = [], 0.0
    for _ in range(7):
        previous = policy.next_backoff(previous, ran_s=2)
        waits.append(previous)
    assert waits == [1, 2, 4, 8, 16, 30, 30]
    assert policy.next_backoff(30, ran_s=61) == 1


def test_server_binds_loopback_caps_the_driver_and_holds_no_secret(tmp_path: Path) -> None:
    """The conf the platform's entry point builds from the environment the stack gives it."""
    stack = LocalStack(tmp_path / "stack", only=[SPARK_CONNECT], prefer_default_ports=False)
    (service,) = stack.services
    assert isinstance(service, SparkConnectService)
    argv = service.argv()
    server = argv[argv.index("--") + 1 :]
    assert server[:3] == [sys.executable, "-m", "steam_platform.spark_connect_server"]
    work = Path(server[server.index("--work-dir") + 1])
    conf = printed_conf(server[3 : server.index("--work-dir")], service.server_env(), work)
    printed = str(conf)
    assert conf["spark.connect.grpc.binding.address"] == "127.0.0.1"
    assert conf["spark.connect.grpc.binding.port"] == str(stack.ctx.ports["spark_connect"])
    assert conf["spark.driver.bindAddress"] == conf["spark.driver.host"] == "127.0.0.1"
    assert (conf["spark.master"], conf["spark.driver.memory"]) == ("local[2]", DEFAULT_DRIVER_MEMORY)
    assert "-XX:+ExitOnOutOfMemoryError" in conf["spark.driver.extraJavaOptions"]
    assert conf["spark.hadoop.fs.s3a.endpoint"] == f"http://127.0.0.1:{stack.ctx.ports['s3']}"
    # The jars sit on the driver's classpath: `spark.jars` would copy them (a+x) into the scratch folder.
    assert conf["spark.driver.extraClassPath"] == service.server_env()["STEAM_SPARK_JARS"]
    assert "spark.jars" not in conf
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.sql.extensions"] == SESSION_EXTENSIONS  # bronze's parser in every session
    assert conf["spark.local.dir"].startswith(str(service.base))
    # The catalog's folder in the private scratch space, not the working directory, and private.
    assert conf["spark.sql.warehouse.dir"].startswith(conf["spark.local.dir"])
    assert conf["spark.hadoop.fs.permissions.umask-mode"] == "077"

    secret = s3_service.SECRET_ACCESS_KEY
    assert secret not in " ".join(argv) and secret not in printed
    assert service.server_env()["AWS_SECRET_ACCESS_KEY"] == secret  # S3A reads it from the environment
    assert service.endpoints() == {REMOTE_ENV: f"sc://127.0.0.1:{stack.ctx.ports['spark_connect']}"}


def test_the_connect_server_is_on_by_default_and_the_choice_is_kept_in_stack_json(tmp_path: Path) -> None:
    state = tmp_path / "stack"
    assert SPARK_CONNECT in [s.name for s in LocalStack(state, prefer_default_ports=False).services]
    LocalStack(state, spark_connect=False, prefer_default_ports=False)._save()
    assert json.loads((state / "stack.json").read_text())["spark_connect"] is False
    assert SPARK_CONNECT not in [s.name for s in LocalStack(state).services]  # recorded: later calls too
    LocalStack(state, spark_connect=True)._save()
    assert SPARK_CONNECT in [s.name for s in LocalStack(state).services]
