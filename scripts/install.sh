#!/usr/bin/env bash
# Installs everything the platform needs on a fresh Debian machine, each step cached/idempotent:
#   1. Debian packages: a JDK 17, Maven, PostgreSQL server, promtool (only those missing; root/sudo)
#   2. Python venv (.venv) with the package and its dev tools (skipped when pyproject is unchanged)
#   3. The local stack's artifacts: Kafka/Elasticsearch/S3 jars and the Spark connectors from Maven
#      Central (skipped when already resolved)
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
step() { echo "==> [$(( $(date +%s) - t0 ))s] $*"; }

# ---- 1. Debian packages -------------------------------------------------------------------------
need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
# promtool checks and unit-tests the Prometheus config and Kafka alert rules (deploy/monitoring/)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if ((${#need[@]})); then
  step "apt-get install ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
else
  step "Debian packages present (java, mvn, postgresql, promtool)"
fi

# ---- 2. Python venv -----------------------------------------------------------------------------
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  step "creating .venv with $($PY --version)"
  $PY -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  step "pip install -e .[dev] (first run downloads ~1 GB: pyspark, dagster, ...)"
  .venv/bin/pip install --progress-bar off -q -e '.[dev]'
  rm -f .venv/.installed-*; touch "$stamp"
else
  step "Python packages up to date"
fi

# ---- 3. Local-stack artifacts (Maven Central) ---------------------------------------------------
step "local stack artifacts (cached in .cache/)"
.venv/bin/steam-platform stack install
step "install done in $(( $(date +%s) - t0 ))s"
