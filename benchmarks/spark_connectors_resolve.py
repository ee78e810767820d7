"""Cold resolve of Spark's connector jars: the AWS SDK modules S3A uses vs the SDK `bundle`.

`deploy/local/maven/spark/pom.xml` replaces hadoop-aws's dependency on the ~690 MB AWS SDK v2
`bundle` with the few SDK modules S3A calls. This script resolves both variants the way the stack
does (`mvn dependency:copy-dependencies`), each into an empty temporary Maven repository (a fresh
machine: plugins, poms and jars all downloaded), and prints time and size of each plus the ratio.

    .venv/bin/python benchmarks/spark_connectors_resolve.py
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
POM = REPO_ROOT / "deploy" / "local" / "maven" / "spark" / "pom.xml"


def bundle_variant(pom_text: str) -> str:
    """The same pom, but with hadoop-aws's own `bundle` dependency and no separate SDK modules."""
    text = re.sub(
        r"<exclusions>\s*<exclusion><groupId>software\.amazon\.awssdk</groupId>"
        r"<artifactId>bundle</artifactId></exclusion>\s*</exclusions>",
        "",
        pom_text,
    )
    modules = (
        r"\s*<dependency>\s*<groupId>software\.amazon\.awssdk</groupId>"
        r"\s*<artifactId>{}</artifactId>.*?</dependency>"
    )
    for artifact in ("s3", "s3-transfer-manager", "sts"):
        text = re.sub(modules.format(re.escape(artifact)), "", text, count=1, flags=re.S)
    if "<artifactId>bundle</artifactId>" in text or "<artifactId>sts</artifactId>" in text:
        raise SystemExit("could not derive the bundle variant from the pom; update this script")
    return text


def resolve(pom: Path, work: Path) -> tuple[float, float, int]:
    """Seconds, MB of jars and jar count of a cold `copy-dependencies` of `pom`."""
    repo, out = work / "m2", work / "jars"
    argv = [
        "mvn", "-B", "-q", "-ntp", "-f", str(pom), f"-Dmaven.repo.local={repo}",
        "dependency:copy-dependencies", f"-DoutputDirectory={out}", "-DincludeScope=runtime",
    ]  # fmt: skip
    start = time.monotonic()
    subprocess.run(argv, check=True, timeout=3600)
    seconds = time.monotonic() - start
    jars = list(out.glob("*.jar"))
    return seconds, sum(j.stat().st_size for j in jars) / 1e6, len(jars)


def main() -> int:
    if shutil.which("mvn") is None:
        print("mvn is not installed", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="resolve-bench-") as tmp:
        root = Path(tmp)
        (root / "modules").mkdir()
        (root / "bundle").mkdir()
        modules_pom = root / "modules" / "pom.xml"
        bundle_pom = root / "bundle" / "pom.xml"
        modules_pom.write_text(POM.read_text())
        bundle_pom.write_text(bundle_variant(POM.read_text()))
        base_s, base_mb, base_n = resolve(bundle_pom, root / "bundle")
        ours_s, ours_mb, ours_n = resolve(modules_pom, root / "modules")
    print(f"baseline (SDK bundle):  {base_s:6.1f} s  {base_mb:7.1f} MB  {base_n} jars")
    print(f"SDK modules (ours):     {ours_s:6.1f} s  {ours_mb:7.1f} MB  {ours_n} jars")
    print(f"ratio ours/baseline:    time {ours_s / base_s:.2f}  size {ours_mb / base_mb:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
