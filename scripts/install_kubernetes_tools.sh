#!/usr/bin/env bash
# The Kubernetes deployment's offline checks need three things, all from package registries and
# all cached in $STEAM_PLATFORM_CACHE (default .cache/), nothing committed (see README, "Deploying
# to Kubernetes"):
#   1. helm, built from the Go module proxy (`go install`, a few minutes on two cores, once);
#   2. ECK's CRDs (Elastic License 2.0), from the cloud-on-k8s Go module on the Go module proxy;
#   3. Strimzi's CRDs (Apache-2.0), generated from Strimzi's API model with Strimzi's own CRD
#      generator, both from Maven Central (deploy/k8s/strimzi-crds/pom.xml); the generator needs a
#      Java 21+ runtime.
# Each step is skipped when its output for the pinned version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v4.3.2
ECK_VERSION=v3.5.0
STRIMZI_VERSION=0.49.0

CACHE=${STEAM_PLATFORM_CACHE:-$PWD/.cache}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
t0=$(date +%s)
step() { echo "==> [k8s $(( $(date +%s) - t0 ))s] $*"; }

GO=$(command -v go || true)
[ -n "$GO" ] || { [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go; }
need_go() { [ -n "$GO" ] || { echo "install_kubernetes_tools: Go is needed (helm, ECK's CRDs)" >&2; exit 1; }; }

# ---- 1. helm ------------------------------------------------------------------------------------
HELM_DIR=$CACHE/tools/helm-$HELM_VERSION
if [ -x "$HELM_DIR/bin/helm" ] && [ -f "$HELM_DIR/.installed" ]; then
  step "helm $HELM_VERSION present"
else
  need_go
  step "building helm $HELM_VERSION from the Go module proxy (first run only, ~3 min on 2 cores)"
  mkdir -p "$HELM_DIR/bin"
  GOBIN=$HELM_DIR/bin GOFLAGS=-buildvcs=false "$GO" install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
  touch "$HELM_DIR/.installed"
fi
mkdir -p "$CACHE/tools/bin"
ln -sf "$HELM_DIR/bin/helm" "$CACHE/tools/bin/helm"

# ---- 2. ECK's CRDs ------------------------------------------------------------------------------
ECK_DIR=$CACHE/crds/eck-$ECK_VERSION
if [ -f "$ECK_DIR/all-crds.yaml" ]; then
  step "ECK $ECK_VERSION CRDs present"
else
  need_go
  step "ECK $ECK_VERSION CRDs from the Go module proxy"
  mod_dir=$("$GO" mod download -json "github.com/elastic/cloud-on-k8s/v3@$ECK_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -f "$mod_dir/config/crds/v1/all-crds.yaml" ] || { echo "no CRDs in $mod_dir" >&2; exit 1; }
  mkdir -p "$ECK_DIR.tmp"
  cp "$mod_dir/config/crds/v1/all-crds.yaml" "$mod_dir/LICENSE.txt" "$ECK_DIR.tmp/"
  rm -rf "$ECK_DIR" && mv "$ECK_DIR.tmp" "$ECK_DIR"
fi

# ---- 3. Strimzi's CRDs --------------------------------------------------------------------------
STRIMZI_DIR=$CACHE/crds/strimzi-$STRIMZI_VERSION
POM=deploy/k8s/strimzi-crds/pom.xml
pom_hash=$(sha256sum "$POM" | cut -c1-16)
if [ -f "$STRIMZI_DIR/.generated-$pom_hash" ]; then
  step "Strimzi $STRIMZI_VERSION CRDs present"
else
  # The generator is compiled for Java 21: the first java >= 21 among JAVA21_HOME, PATH, /usr/lib/jvm.
  java21=""
  for candidate in ${JAVA21_HOME:+"$JAVA21_HOME/bin/java"} "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
    [ -x "$candidate" ] || continue
    major=$("$candidate" -XshowSettings:properties -version 2>&1 \
      | sed -n 's/^[[:space:]]*java.specification.version = \([0-9]*\).*/\1/p')
    if [ -n "$major" ] && [ "$major" -ge 21 ]; then java21=$candidate; break; fi
  done
  [ -n "$java21" ] || { echo "install_kubernetes_tools: Strimzi's CRD generator needs Java 21+ (set JAVA21_HOME)" >&2; exit 1; }
  step "Strimzi $STRIMZI_VERSION CRDs: generator from Maven Central, run with $java21"
  rm -rf "$STRIMZI_DIR" && mkdir -p "$STRIMZI_DIR/jars"
  mvn -B -q -ntp -f "$POM" dependency:copy-dependencies -DoutputDirectory="$STRIMZI_DIR/jars" -DincludeScope=runtime
  # The arguments Strimzi's own build (api/pom.xml) passes for the CRDs it ships: v1beta2 stored, v1 served.
  # shellcheck disable=SC2054
  "$java21" -cp "$STRIMZI_DIR/jars/*" io.strimzi.crdgenerator.CrdGenerator \
    --label app:strimzi --label strimzi.io/crd-install:true --target-kube 1.16+ --crd-api-version v1 \
    --api-versions v1beta2,v1 --storage-version v1beta2 --yaml \
    io.strimzi.api.kafka.model.kafka.Kafka="$STRIMZI_DIR/kafka.yaml" \
    io.strimzi.api.kafka.model.nodepool.KafkaNodePool="$STRIMZI_DIR/kafkanodepool.yaml"
  "$java21" -cp "$STRIMZI_DIR/jars/*" io.strimzi.crdgenerator.CrdGenerator \
    --label app:strimzi --label strimzi.io/crd-install:true --target-kube 1.16+ --crd-api-version v1 \
    --api-versions v1alpha1,v1beta1,v1beta2,v1 --storage-version v1beta2 --yaml \
    io.strimzi.api.kafka.model.topic.KafkaTopic="$STRIMZI_DIR/kafkatopic.yaml" \
    io.strimzi.api.kafka.model.user.KafkaUser="$STRIMZI_DIR/kafkauser.yaml"
  touch "$STRIMZI_DIR/.generated-$pom_hash"
fi
step "Kubernetes tools ready: helm $HELM_VERSION, ECK $ECK_VERSION and Strimzi $STRIMZI_VERSION CRDs in $CACHE"
