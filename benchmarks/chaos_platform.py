"""The platform the chaos benchmark runs and breaks: a three-broker local stack with monitoring, and
`steam-platform dev` (supervised code server, webserver, daemon) kept running as a service manager
would keep it (restarted when it exits), plus the webhook receiver standing in for Slack.

Everything lives in one temporary state folder and is stopped (process groups) when the context
ends, also after Ctrl-C or an error.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from chaos_report import AlertMessage

from steam_devstack.alert_webhook import WebhookReceiver, webhook_receiver
from steam_devstack.code_server import CodeLocation
from steam_devstack.health import free_port, http_ok
from steam_devstack.main_run import prepare_dagster_home
from steam_devstack.paths import REPO_ROOT
from steam_devstack.process import ManagedProcess, kill_all, process_tree
from steam_devstack.services.monitoring import AlertTimings, MonitoringService
from steam_devstack.stack import LocalStack

#: Alert timings of the chaos run: production's scrape and evaluation cadence (15 s: the exporter
#: reads the Dagster instance on every scrape, ~0.15 cores at 5 s), every rule's `for:` cut to
#: 30 s, so a fault of a scaled-down run (45 s at least) still fires and resolves; Alertmanager
#: sends within 10 s and re-sends changes every 30 s.
CHAOS_TIMINGS = AlertTimings(
    scrape_interval="15s",
    evaluation_interval="15s",
    resend_delay="10s",
    group_wait="10s",
    group_interval="30s",
    repeat_interval="4h",
    resolve_timeout="1m",
    rule_for="30s",
)
#: A service manager's restart delay (systemd's RestartSec) for `steam-platform dev`.
RESTART_DELAY_S = 5.0
DEV_START_TIMEOUT_S = 300.0


@dataclass
class DevService:
    """`steam-platform dev` run as a service: started again `RESTART_DELAY_S` after it exits."""

    process: ManagedProcess
    argv: list[str]
    env: dict[str, str]
    url: str
    restarts: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self.process.start(self.argv, cwd=REPO_ROOT, env=self.env)
        self._thread = threading.Thread(target=self._supervise, name="dev-supervisor", daemon=True)
        self._thread.start()

    def _supervise(self) -> None:
        while not self._stop.wait(1.0):
            if not self.process.is_running():
                self.process.stop(timeout=5)  # what is left of its group
                if self._stop.wait(RESTART_DELAY_S):
                    return
                self.restarts.append(time.time())
                self.process.start(self.argv, cwd=REPO_ROOT, env=self.env)

    def ui_answers(self) -> bool:
        return http_ok(f"{self.url}/server_info")

    def wait_ready(self, timeout_s: float = DEV_START_TIMEOUT_S) -> None:
        """Until the webserver answers (bounded)."""
        deadline = time.monotonic() + timeout_s
        while not self.ui_answers():
            if time.monotonic() > deadline:
                tail = self.process.log_file.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"steam-platform dev did not come up ({self.process.log_file}):\n{tail}")
            time.sleep(1)

    def tree(self) -> list[psutil.Process]:
        pid = self.process.pid()
        return process_tree(pid) if pid is not None else []

    def find(self, *needles: str) -> list[psutil.Process]:
        """Processes of the dev tree whose command line contains one of `needles`."""
        found = []
        for proc in self.tree():
            with contextlib.suppress(psutil.Error):
                cmd = " ".join(proc.cmdline())
                if any(n in cmd for n in needles):
                    found.append(proc)
        return found

    def stop(self) -> None:
        """Stop supervising, then the whole tree: SIGTERM to the group, SIGKILL what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(RESTART_DELAY_S + 5)
        tree = self.tree()
        self.process.stop(timeout=60)
        kill_all([p for p in tree if p.is_running()], grace=0)


@dataclass
class Platform:
    """The running stack, its monitoring and `steam-platform dev`."""

    stack: LocalStack
    monitoring: MonitoringService
    dev: DevService
    env: dict[str, str]
    receiver: WebhookReceiver
    root: Path

    def alert_messages(self) -> list[AlertMessage]:
        """Alertmanager's messages received so far, with their wall-clock arrival times."""
        parsed = (AlertMessage.parse(n.received_wall, n.title, n.text) for n in self.receiver.snapshot())
        return [m for m in parsed if m is not None]


@contextlib.contextmanager
def running_platform(root: Path, poll_minutes: int, keep_state: bool = False) -> Iterator[Platform]:
    """Three brokers, every other server, monitoring with `CHAOS_TIMINGS` posting to a local webhook,
    and `steam-platform dev` polling every `poll_minutes`; all stopped and `root` removed after
    (kept, logs and data, with `keep_state`)."""
    with contextlib.ExitStack() as cleanup:  # callbacks run last-in first-out
        if not keep_state:
            cleanup.callback(shutil.rmtree, root, ignore_errors=True)
        receiver, url = cleanup.enter_context(webhook_receiver("/services/T000/B000/chaos"))
        stack = LocalStack(root / "stack", brokers=3, prefer_default_ports=False, monitoring=False)
        cleanup.callback(stack.down)
        port, code_port = free_port(), free_port()
        monitoring = MonitoringService(
            stack.ctx, timings=CHAOS_TIMINGS, webhook_url=url, code_servers=[CodeLocation(port=code_port)]
        )
        cleanup.callback(monitoring.stop)
        dev_process = ManagedProcess("steam-dev", root / "steam-dev.pid", root / "steam-dev.log")
        dev: DevService | None = None
        cleanup.callback(lambda: dev.stop() if dev is not None else None)
        cleanup.callback(_ignore_interrupts)
        stack.up()
        env = {**stack.endpoints(), "DAGSTER_HOME": str(prepare_dagster_home(stack))}
        env |= {"STEAM_POLL_INTERVAL_MINUTES": str(poll_minutes), "STEAM_PLATFORM_ENV": "local"}
        monitoring.start()
        argv = [str(Path(sys.executable).parent / "steam-platform"), "dev", "--port", str(port)]
        argv += ["--code-server-port", str(code_port), "--state-dir", str(root / "stack")]
        dev = DevService(dev_process, argv, env, f"http://127.0.0.1:{port}")
        dev.start()
        dev.wait_ready()
        yield Platform(stack, monitoring, dev, env, receiver, root)


def _ignore_interrupts() -> None:
    """From here on clean-up runs to its end: a second Ctrl-C or SIGTERM would leave servers behind."""
    print("stopping steam-platform dev, monitoring and the stack...", file=sys.stderr, flush=True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
