"""Every document of every overlay is one the API server and the operators would accept.

Offline: Kubernetes' schemas come with kubernetes-validate, the Strimzi and CloudNativePG CRD
schemas are vendored in deploy/crds/schemas (see deploy/crds/fetch.sh). How each is checked,
and what is not, is in validation.py.
"""

from __future__ import annotations

import copy
import re
from collections import Counter

import pytest

from tests.unit.deploy.validation import (
    CRD_SCHEMAS,
    KUBERNETES_VERSIONS,
    OVERLAYS,
    InvalidManifest,
    Obj,
    crd_index,
    name_of,
    rendered,
    validate,
)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_document_of_the_overlay_is_valid(overlay: str) -> None:
    docs = rendered(overlay)
    checked_by: Counter[str] = Counter()
    problems = []
    for doc in docs:
        try:
            checked_by[validate(doc)] += 1
        except InvalidManifest as problem:
            problems.append(str(problem))
    assert not problems, "\n".join(problems)
    # Every document was checked by a schema: Kubernetes' own kinds and both operators' kinds.
    assert sum(checked_by.values()) == len(docs)
    kubernetes = "kubernetes " + " and ".join(KUBERNETES_VERSIONS)
    assert {kubernetes, "CRD kafka.strimzi.io/v1 KafkaTopic"} <= checked_by.keys()
    assert "CRD postgresql.cnpg.io/v1 Cluster" in checked_by


def test_overlays_exist() -> None:
    assert {"dev", "production"} <= set(OVERLAYS)


def test_strimzi_serves_only_v1() -> None:
    strimzi = crd_index()["kafka.strimzi.io"]
    assert {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"} <= strimzi.keys()
    assert all(crd["served"] == ["v1"] for crd in strimzi.values())
    assert {p.name for p in (CRD_SCHEMAS / "kafka.strimzi.io").iterdir()} == {"v1"}


def test_vendored_schemas_are_of_the_versions_fetch_sh_names() -> None:
    """Bumping an operator's version in deploy/crds without regenerating its schemas fails."""
    crds = CRD_SCHEMAS.parent
    strimzi = re.search(r"<strimzi.version>(.+)</strimzi.version>", (crds / "pom.xml").read_text())
    script = (crds / "fetch.sh").read_text()
    cnpg = re.search(r"^CNPG_VERSION=(\S+)", script, re.MULTILINE)
    prometheus = re.search(r"^PROMETHEUS_OPERATOR_VERSION=(\S+)", script, re.MULTILINE)
    assert strimzi and cnpg and prometheus
    sources = {
        group: {crd["source"] for crd in kinds.values()} for group, kinds in crd_index().items()
    }
    assert sources["kafka.strimzi.io"] == {
        f"io.strimzi:api:{strimzi[1]} + io.strimzi:crd-generator:{strimzi[1]} (Maven Central)"
    }
    (source,) = sources["postgresql.cnpg.io"]
    assert f"cloudnative-pg@v{cnpg[1]} " in source
    (source,) = sources["monitoring.coreos.com"]
    assert f"prometheus-operator@v{prometheus[1]} " in source


def one(kind: str) -> Obj:
    found = [d for d in rendered("dev") if d["kind"] == kind]
    assert found, f"the dev overlay has no {kind}"
    return copy.deepcopy(found[0])


def broken(kind: str, path: str, value: object) -> Obj:
    """A copy of the dev overlay's first `kind` with `value` put at the dotted `path`."""
    doc = one(kind)
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return doc


# (kind, dotted path, value put there, what the refusal must say)
MISTAKES = {
    "a misspelt container field": (
        "Deployment",
        "spec.template.spec.containers.0.livenessProbe.httpGet.paht",
        "/health/live",
        "'paht' was unexpected",
    ),
    "a quantity of the wrong type": (
        "Deployment",
        "spec.template.spec.containers.0.resources.limits.cpu",
        [1],
        "resources.limits.cpu",
    ),
    "NetworkPolicy policyTypes not a list": ("NetworkPolicy", "spec.policyTypes", "Ingress", ""),
    "Strimzi's removed v1beta2": (
        "KafkaTopic",
        "apiVersion",
        "kafka.strimzi.io/v1beta2",
        "serves ['v1']",
    ),
    "a misspelt KafkaTopic field": ("KafkaTopic", "spec.partitons", 3, "'partitons'"),
    "Kafka replicas, moved to node pools in v1": (
        "Kafka",
        "spec.kafka.replicas",
        3,
        "'replicas' was unexpected",
    ),
    "a KafkaUser ACL's v1beta2 `operation`": (
        "KafkaUser",
        "spec.authorization.acls.0.operation",
        "Read",
        "'operation' was unexpected",
    ),
    "a Cluster's instances as a string": ("Cluster", "spec.instances", "3", "spec.instances"),
    "a misspelt Cluster storage field": ("Cluster", "spec.storage.sise", "1Gi", "'sise'"),
    "a custom resource's label that is not a string": (
        "KafkaTopic",
        "metadata.labels.replicas",
        3,
        "metadata.labels.replicas",
    ),
    "a kind without a schema": ("Widget", "", None, "no schema"),
    "an API Kubernetes no longer serves": (
        "PodDisruptionBudget",
        "apiVersion",
        "policy/v1beta1",
        "no schema",
    ),
}


@pytest.mark.parametrize(("kind", "path", "value", "message"), MISTAKES.values(), ids=MISTAKES)
def test_a_mistake_is_refused(kind: str, path: str, value: object, message: str) -> None:
    if kind == "Widget":
        doc: Obj = {"apiVersion": "example.org/v1", "kind": kind, "metadata": {"name": "w"}}
    else:
        doc = broken(kind, path, value)
        validate(one(kind))  # the same document, unbroken, passes
    with pytest.raises(InvalidManifest) as refused:
        validate(doc)
    assert message in str(refused.value)
    assert name_of(doc) in str(refused.value)


def test_alert_rules_have_a_schema_too() -> None:
    """Prometheus Operator kinds (alert rules, scrape targets) are validated like the others."""
    rule: Obj = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "pulih", "labels": {"app.kubernetes.io/part-of": "pulih"}},
        "spec": {
            "groups": [
                {
                    "name": "pulih",
                    "rules": [{"alert": "DeadLetters", "expr": "pulih_dead_letters_total > 0"}],
                }
            ]
        },
    }
    assert validate(rule) == "CRD monitoring.coreos.com/v1 PrometheusRule"
    rule["spec"]["groups"][0]["rules"][0]["for"] = 5  # a duration is a string ("5m")
    with pytest.raises(InvalidManifest, match=r"spec\.groups\.0\.rules\.0\.for"):
        validate(rule)
