"""Elasticsearch 7.10.2: one real node for the search layer (mart and news indices, Kibana).

The server is the Apache-2.0 Elasticsearch 7.10.2 (`org.elasticsearch:elasticsearch` plus the
standard modules) as packaged on Maven Central by codelibs' `elasticsearch-cluster-runner`, resolved
from `deploy/local/maven/elasticsearch/pom.xml`. The runner embeds an ordinary
`org.elasticsearch.node.Node`; `deploy/local/elasticsearch/SteamEsLauncher.java` (compiled with
`javac` once, cached) starts exactly one node whose settings all come from the `elasticsearch.yml`
this service writes: single-node discovery, HTTP and transport on 127.0.0.1, data/logs under the
state folder, disk-watermark allocation checks off, no security (no X-Pack on the classpath).

The JVM runs as the unprivileged service user when the stack runs as root (Elasticsearch refuses
root), in its own process group with a capped heap, so `stop()` ends the whole JVM.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import ClassVar

from steam_devstack import maven
from steam_devstack.health import StackError, wait_until
from steam_devstack.paths import DEPLOY_LOCAL
from steam_devstack.services.base import Service
from steam_platform.core.settings import StackToolSettings

COMPONENT = "elasticsearch"
LAUNCHER = DEPLOY_LOCAL / "elasticsearch" / "SteamEsLauncher.java"
LOG4J_CONFIG = DEPLOY_LOCAL / "elasticsearch" / "log4j2.properties"
HEAP_MB = 512
START_TIMEOUT_S = 180
CLUSTER_NAME = "steam-local"
#: Elasticsearch 7.10 runs on Java 11 and newer (tested on 17, the default JDK, and on 25).
MIN_JAVA = 11


def _java_home_bin(tool: str) -> str:
    """`tool` from `$ES_JAVA_HOME/bin` when set (to pick another JDK), else from the PATH."""
    java_home = StackToolSettings.load().es_java_home
    if java_home:
        return str(java_home / "bin" / tool)
    found = shutil.which(tool)
    if found is None:
        raise StackError(
            f"elasticsearch: `{tool}` not found; install a JDK (>= {MIN_JAVA}) or set ES_JAVA_HOME"
        )
    return found


def java_major(java: str) -> int:
    """The feature release of the `java` binary (`17` for 17.0.x, `8` for 1.8)."""
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if match is None:
        raise StackError(f"elasticsearch: cannot tell the version of {java}: {out.strip()}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def launcher_dir() -> Path:
    """Where the compiled launcher class lives (cached per launcher source and jar set)."""
    digest = hashlib.sha256(LAUNCHER.read_bytes() + maven.classpath(COMPONENT).encode()).hexdigest()[:16]
    return maven.cache_dir() / "build" / "elasticsearch-launcher" / digest


class ElasticsearchService(Service):
    """A single Elasticsearch 7.10.2 node on 127.0.0.1 (HTTP for clients, transport unused)."""

    name = "elasticsearch"
    default_ports: ClassVar[dict[str, int]] = {
        "elasticsearch_http": 19200,
        "elasticsearch_transport": 19300,
    }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port('elasticsearch_http')}"

    def install(self) -> None:
        """Resolve the server jars from Maven Central and compile the launcher (both cached).

        Also caches the node's published REST API specification (`es-rest-api-spec`), which the
        search layer's requests are checked against (tests/search/test_es_rest_spec.py)."""
        maven.resolve(COMPONENT)
        maven.resolve("es-rest-api-spec")
        java = _java_home_bin("java")
        if java_major(java) < MIN_JAVA:
            raise StackError(f"elasticsearch: needs Java >= {MIN_JAVA}; {java} is older (set ES_JAVA_HOME)")
        target = launcher_dir()
        if (target / "SteamEsLauncher.class").exists():
            return
        staging = target.with_name(f"{target.name}.tmp{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        javac = [
            _java_home_bin("javac"), "--release", str(MIN_JAVA), "-nowarn",
            "-cp", maven.classpath(COMPONENT), "-d", str(staging), str(LAUNCHER),
        ]  # fmt: skip
        result = subprocess.run(javac, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise StackError(
                f"elasticsearch: compiling {LAUNCHER.name} failed:\n{result.stdout}{result.stderr}"
            )
        try:
            staging.rename(target)
        except OSError:  # another stack compiled the same launcher meanwhile
            shutil.rmtree(staging, ignore_errors=True)

    def _settings(self, base: Path) -> dict[str, object]:
        return {
            "cluster.name": CLUSTER_NAME,
            "node.name": "steam-es-1",
            "node.roles": ["master", "data", "ingest"],
            "path.home": str(base),
            "path.data": str(base / "data"),
            "path.logs": str(base / "logs"),
            "network.host": "127.0.0.1",
            "http.port": self.port("elasticsearch_http"),
            "transport.port": self.port("elasticsearch_transport"),
            "discovery.type": "single-node",
            # A developer's disk may be nearly full: never block allocation or make indices read-only.
            "cluster.routing.allocation.disk.threshold_enabled": False,
        }

    def _write_config(self, base: Path) -> None:
        config = base / "config"
        for sub in ("config", "data", "logs", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        # JSON is YAML: one line per setting, values quoted exactly.
        yml = "".join(f"{k}: {json.dumps(v)}\n" for k, v in self._settings(base).items())
        (config / "elasticsearch.yml").write_text(yml)
        shutil.copyfile(LOG4J_CONFIG, config / "log4j2.properties")
        self.ctx.give_to_run_user(base)

    def _java_argv(self, base: Path) -> list[str]:
        java = _java_home_bin("java")
        flags = [
            f"-Xms{HEAP_MB}m", f"-Xmx{HEAP_MB}m", f"-XX:MaxDirectMemorySize={HEAP_MB // 2}m", "-Xss1m",
            "-XX:+UseG1GC", "-XX:G1ReservePercent=25", "-XX:InitiatingHeapOccupancyPercent=30",
            "-XX:-OmitStackTraceInFastThrow", "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true", "-Dfile.encoding=UTF-8", "-Djna.nosys=true",
            f"-Djava.io.tmpdir={base / 'tmp'}",
            # The flags Elasticsearch's own jvm.options sets for Netty and log4j.
            "-Dio.netty.noUnsafe=true", "-Dio.netty.noKeySetOptimization=true",
            "-Dio.netty.recycler.maxCapacityPerThread=0", "-Dio.netty.allocator.numDirectArenas=0",
            "-Dlog4j.shutdownHookEnabled=false", "-Dlog4j2.disable.jmx=true",
            "-Dlog4j2.formatMsgNoLookups=true",
            # What Elastic's own Apache-2.0 build of 7.10.2 reports in `GET /` (else "unknown").
            "-Des.distribution.flavor=oss",
        ]  # fmt: skip
        major = java_major(java)
        if major < 23:  # the COMPAT locale data Elasticsearch 7 expects was removed in 23
            flags.append("-Djava.locale.providers=SPI,COMPAT")
        if major >= 22:  # JNA (loaded by the node) otherwise warns about restricted native access
            flags.append("--enable-native-access=ALL-UNNAMED")
        classpath = f"{maven.classpath(COMPONENT)}:{launcher_dir()}"
        return [java, *flags, "-cp", classpath, "SteamEsLauncher", str(base)]

    def start(self) -> None:
        base = self.ctx.data_dir(COMPONENT)
        self._write_config(base)
        proc = self.process()
        if not proc.is_running():
            proc.start(self._java_argv(base), cwd=base, user=self.ctx.run_user)
        wait_until(
            self.healthy,
            what="elasticsearch",
            timeout=START_TIMEOUT_S,
            alive=self.is_running,
            log_hint=self.log_hint(),
        )

    def cluster_health(self) -> dict[str, object] | None:
        """`GET /_cluster/health` as a dict, or None when the node does not answer."""
        try:
            with urllib.request.urlopen(f"{self.url}/_cluster/health", timeout=3) as resp:
                return dict(json.loads(resp.read()))
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def healthy(self) -> bool:
        """The node answers and the cluster is green or yellow (yellow: unassigned replicas)."""
        health = self.cluster_health()
        return health is not None and health.get("status") in ("green", "yellow")

    def endpoints(self) -> dict[str, str]:
        return {"ELASTICSEARCH_URL": self.url}
