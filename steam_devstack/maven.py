"""Resolve a component's jars from Maven Central with Maven itself, into the shared cache.

Each component has a small `pom.xml` under `deploy/local/maven/<component>/`; its runtime
dependencies are copied into `<cache>/jars/<component>/`. A marker file with the pom's hash makes
the step idempotent, and progress is printed while Maven downloads (a first run fetches hundreds of
megabytes).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

from steam_devstack.health import StackError
from steam_devstack.paths import DEPLOY_LOCAL, cache_dir

MAVEN_DIR = DEPLOY_LOCAL / "maven"
MVN_TIMEOUT_S = 1800
#: Seconds between progress lines while Maven downloads.
PROGRESS_EVERY_S = 5.0


def jars_dir(component: str) -> Path:
    """Where the resolved jars of `component` live."""
    return cache_dir() / "jars" / component


def classpath(component: str) -> str:
    """A Java classpath with every resolved jar of `component`."""
    return ":".join(str(p) for p in sorted(jars_dir(component).glob("*.jar")))


def _ended_within(proc: subprocess.Popen[bytes], seconds: float) -> bool:
    """Wait up to `seconds` for `proc`; whether it ended."""
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def resolve(component: str) -> Path:
    """Copy the runtime dependencies of `deploy/local/maven/<component>/pom.xml` into the cache."""
    pom = MAVEN_DIR / component / "pom.xml"
    dest = jars_dir(component)
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    marker = dest / ".resolved"
    if marker.exists() and marker.read_text() == digest:
        return dest
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError("Maven (mvn) is not installed: run `make install` (it installs it from apt).")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    log = cache_dir() / "logs" / f"maven-{component}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"  resolving {component} jars from Maven Central (first run only)...", file=sys.stderr)
    argv = [
        mvn, "-B", "-ntp", "-f", str(pom),
        "dependency:copy-dependencies", f"-DoutputDirectory={dest}", "-DincludeScope=runtime",
    ]  # fmt: skip
    start = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        while not _ended_within(proc, PROGRESS_EVERY_S):  # returns as soon as Maven ends
            if time.monotonic() - start > MVN_TIMEOUT_S:
                proc.kill()
                raise StackError(f"Maven timed out resolving {component}; see {log}")
            size = sum(p.stat().st_size for p in dest.glob("*.jar")) / 1e6
            print(f"  {component}: {time.monotonic() - start:.0f}s, {size:.0f} MB copied", file=sys.stderr)
    if proc.returncode != 0:
        raise StackError(f"Maven failed resolving {component} (exit {proc.returncode}); see {log}")
    marker.write_text(digest)
    print(f"  {component}: resolved in {time.monotonic() - start:.0f}s", file=sys.stderr)
    return dest
