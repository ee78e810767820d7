"""Compile bronze's envelope parser (`deploy/local/spark/*.java`) into a jar, cached.

The parser is a Catalyst expression in Java (`streaming/envelope_parse.py` says why). It is compiled with the
JDK's `javac` against the jars of the Spark that pyspark ships (the classes it runs with, nothing
downloaded) and packed into `steam-lake-udf-<digest>.jar` next to the connector jars, so every
session, `spark-submit` and server that loads those (`STEAM_SPARK_JARS`, the Connect server, a
cluster's executors through the driver) loads the parser too. The digest covers the sources and
the Spark version: an edited parser or another Spark compiles again, an unchanged one never.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pyspark

from steam_devstack.health import StackError
from steam_devstack.paths import DEPLOY_LOCAL

#: The folder of the parser's Java sources (every `*.java` in it is compiled into the jar).
SOURCE_DIR = DEPLOY_LOCAL / "spark"
JAR_PREFIX = "steam-lake-udf-"
JAVA_RELEASE = "17"
JAVAC_TIMEOUT_S = 300


def _spark_jars() -> Path:
    return Path(pyspark.__file__).parent / "jars"


def sources() -> list[Path]:
    """The parser's Java sources, sorted."""
    return sorted(SOURCE_DIR.glob("*.java"))


def jar_name() -> str:
    """The jar's file name for today's sources and Spark version."""
    digest = hashlib.sha256(pyspark.__version__.encode())
    for source in sources():
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    digest_hex = digest.hexdigest()[:12]
    return f"{JAR_PREFIX}{digest_hex}.jar"


def _javac() -> str:
    javac = shutil.which("javac")
    if javac is None:
        raise StackError(
            "javac not found: bronze's envelope parser is compiled at install; install a JDK "
            f"(>= {JAVA_RELEASE}), e.g. `apt-get install openjdk-17-jdk-headless` (`make install` does)"
        )
    return javac


def build_udf_jar(dest: Path) -> Path:
    """Compile the parser into `dest/<jar_name()>` unless it is there; older builds are removed."""
    target = dest / jar_name()
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory(prefix="steam-udf-") as work:
        classes = Path(work) / "classes"
        classes.mkdir()
        argv = [
            _javac(), "--release", JAVA_RELEASE, "-nowarn", "-cp", f"{_spark_jars()}/*",
            "-d", str(classes), *map(str, sources()),
        ]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, timeout=JAVAC_TIMEOUT_S)
        if done.returncode != 0:
            names = ", ".join(p.name for p in sources())
            raise StackError(f"compiling {names} failed:\n{done.stdout}{done.stderr}")
        staging = dest / f".{target.name}.{os.getpid()}"
        with zipfile.ZipFile(staging, "w", zipfile.ZIP_DEFLATED) as jar:
            for path in sorted(classes.rglob("*.class")):
                jar.write(path, path.relative_to(classes).as_posix())
        staging.replace(target)  # atomic: a concurrent reader never sees half a jar
    for old in dest.glob(f"{JAR_PREFIX}*.jar"):
        if old != target:
            old.unlink(missing_ok=True)
    return target
