#!/usr/bin/env bash
# Regenerates the CRD schemas in deploy/crds/schemas/ that tests/unit/deploy validates the k8s/
# manifests against, offline. Run it after changing a version below (or in pom.xml), then
# commit the result:  bash deploy/crds/fetch.sh
#
#   Strimzi (kafka.strimzi.io/v1): Maven Central has no CRD files, so its CRD generator
#     (io.strimzi:crd-generator) generates them from the API model (io.strimzi:api), as
#     Strimzi's own build does. Both jars need Java 21 or newer (the runtime uses Java 17).
#   CloudNativePG (postgresql.cnpg.io/v1): the release manifest releases/cnpg-<version>.yaml
#     inside the Go module github.com/cloudnative-pg/cloudnative-pg, from the Go module proxy.
#   Prometheus Operator (monitoring.coreos.com/v1: alert rules, scrape targets): the CRDs in
#     example/prometheus-operator-crd/ of the Go module github.com/prometheus-operator/
#     prometheus-operator, from the Go module proxy.
#
# Needs mvn, go and the project's virtualenv (.venv, for PyYAML).
set -euo pipefail

CNPG_VERSION=1.30.1   # keep at the CloudNativePG operator release the cluster runs
PROMETHEUS_OPERATOR_VERSION=0.94.0
PROMETHEUS_OPERATOR_KINDS=(prometheusrules servicemonitors podmonitors)
# Strimzi's version is strimzi.version in pom.xml.
STRIMZI_KINDS=(
  io.strimzi.api.kafka.model.kafka.Kafka
  io.strimzi.api.kafka.model.nodepool.KafkaNodePool
  io.strimzi.api.kafka.model.topic.KafkaTopic
  io.strimzi.api.kafka.model.user.KafkaUser
  io.strimzi.api.kafka.model.rebalance.KafkaRebalance
)

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

java_21() {
  local candidate
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/*; do
    [ -x "$candidate/bin/java" ] || continue
    local major
    major=$("$candidate/bin/java" -XshowSettings:properties -version 2>&1 \
      | sed -n 's/^ *java.specification.version = //p')
    if [ "${major:-0}" -ge 21 ]; then echo "$candidate/bin/java"; return; fi
  done
  echo "fetch.sh: Strimzi's CRD generator needs Java 21+ (set JAVA_HOME)" >&2
  return 1
}

# Strimzi: resolve the API model and the generator, then generate one CRD per kind.
java=$(java_21)
strimzi_version=$(sed -n 's:.*<strimzi.version>\(.*\)</strimzi.version>.*:\1:p' "$here/pom.xml")
mvn -q -f "$here/pom.xml" dependency:build-classpath -Dmdep.outputFile="$work/classpath"
outputs=()
for class in "${STRIMZI_KINDS[@]}"; do outputs+=("$class=$work/strimzi-${class##*.}.yaml"); done
"$java" -cp "$(cat "$work/classpath")" io.strimzi.crdgenerator.CrdGenerator \
  --yaml --crd-api-version v1 --api-versions v1 --storage-version v1 "${outputs[@]}"

go_module_dir() {
  (cd "$work" && GOFLAGS=-mod=mod go mod download -json "$1") \
    | "$python" -c 'import json, sys; print(json.load(sys.stdin)["Dir"])'
}

# CloudNativePG: the release manifest from the Go module.
module_dir=$(go_module_dir "github.com/cloudnative-pg/cloudnative-pg@v$CNPG_VERSION")
cp "$module_dir/releases/cnpg-$CNPG_VERSION.yaml" "$work/cnpg.yaml"

# Prometheus Operator: the CRDs of the kinds above.
module_dir=$(go_module_dir \
  "github.com/prometheus-operator/prometheus-operator@v$PROMETHEUS_OPERATOR_VERSION")
for plural in "${PROMETHEUS_OPERATOR_KINDS[@]}"; do
  cp "$module_dir/example/prometheus-operator-crd/monitoring.coreos.com_$plural.yaml" "$work/"
done

"$python" "$here/extract.py" --out "$here/schemas" \
  --source "io.strimzi:api:$strimzi_version + io.strimzi:crd-generator:$strimzi_version (Maven Central)" \
  "$work"/strimzi-*.yaml \
  --source "github.com/cloudnative-pg/cloudnative-pg@v$CNPG_VERSION releases/cnpg-$CNPG_VERSION.yaml (Go module proxy)" \
  "$work/cnpg.yaml" \
  --source "github.com/prometheus-operator/prometheus-operator@v$PROMETHEUS_OPERATOR_VERSION example/prometheus-operator-crd (Go module proxy)" \
  "$work"/monitoring.coreos.com_*.yaml
