"""The deployment files keep the conventions a reviewer would otherwise check by hand.

No cluster, no Docker engine, no network: the files are read, and the base and the overlays are
rendered with the `kustomize` or `kubectl` binary (CI must have one). Whether each rendered
document is one the API server would accept is test_schemas.py's part.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from shared.messaging.broker import Topics
from shared.messaging.relay import transactional_id
from shared.settings import DEV_SECRET
from tests.unit.deploy.validation import render, rendered

try:
    import yaml
except ModuleNotFoundError:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise  # CI must check the manifests, never skip them
    pytest.skip("PyYAML is not installed (add pyyaml to the dev extras)", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "k8s"
SERVICES = ("registry", "client-case", "scheduling", "reporting", "gateway")
DB_SERVICES = ("registry", "client-case", "scheduling", "reporting")
CONSUMERS = DB_SERVICES
CANONICAL = {
    "registry": "ibm.registry",
    "client-case": "ibm.client-case",
    "scheduling": "ibm.scheduling",
}

Obj = dict[str, Any]


def db_name(service: str) -> str:
    return service.replace("-", "_")


def load(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def is_kustomization(path: Path) -> bool:
    return path.name in ("kustomization.yaml", "kustomization.yml")


@cache
def base() -> tuple[Obj, ...]:
    """k8s/base as kustomize builds it: each service made from the one shape in base/service."""
    return tuple(render(K8S / "base"))


@cache
def referenced_files() -> frozenset[Path]:
    """Patch and replacement files: kustomize input, not objects of their own."""
    files = set()
    for path in K8S.rglob("kustomization.y*ml"):
        kustomization = load(path)[0]
        for entry in [*kustomization.get("patches", []), *kustomization.get("replacements", [])]:
            if "path" in entry:
                files.add((path.parent / entry["path"]).resolve())
    return frozenset(files)


def objects(kind: str) -> list[Obj]:
    return [o for o in base() if o["kind"] == kind]


def find(kind: str, name: str) -> Obj:
    found = [o for o in objects(kind) if o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name!r} in k8s/base, found {len(found)}"
    return found[0]


@cache
def compose() -> Obj:
    return load(ROOT / "docker-compose.yml")[0]


def pod_spec(service: str) -> Obj:
    spec: Obj = find("Deployment", service)["spec"]["template"]["spec"]
    return spec


def pod_labels(service: str) -> dict[str, str]:
    labels: dict[str, str] = find("Deployment", service)["spec"]["template"]["metadata"]["labels"]
    return labels


def main_container(service: str) -> Obj:
    named = [c for c in pod_spec(service)["containers"] if c["name"] == service]
    assert named, f"the {service} Deployment has no container named {service}"
    return named[0]


def selects(selector: Obj, labels: dict[str, str]) -> bool:
    match = selector.get("matchLabels", {})
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def env_of(container: Obj) -> dict[str, Obj]:
    return {e["name"]: e for e in container.get("env", [])}


def grants(user: Obj, operation: str, resource_type: str, name: str) -> bool:
    """Whether the KafkaUser's ACLs allow `operation` on the named resource (as Kafka matches)."""
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        operations = acl.get("operations") or [acl.get("operation")]
        if acl.get("type", "allow") != "allow" or resource["type"] != resource_type:
            continue
        if operation not in operations and "All" not in operations:
            continue
        pattern, acl_name = resource.get("patternType", "literal"), resource.get("name", "*")
        if acl_name == "*" or (
            acl_name == name if pattern == "literal" else name.startswith(acl_name)
        ):
            return True
    return False


def topic_name(topic: Obj) -> str:
    name: str = topic["spec"].get("topicName", topic["metadata"]["name"])
    return name


def topics() -> dict[str, Obj]:
    return {topic_name(t): t for t in objects("KafkaTopic")}


# --- every file parses -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        *sorted(K8S.rglob("*.y*ml")),
        ROOT / "docker-compose.yml",
        ROOT / "deploy/otel-collector.yaml",
    ],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_yaml_parses_into_named_objects(path: Path) -> None:
    docs = load(path)
    assert docs, f"{path} is empty"
    if path.resolve() in referenced_files():
        return  # a patch or a list of replacements
    for doc in docs:
        assert isinstance(doc, dict)
        if path.is_relative_to(K8S) and not is_kustomization(path):
            assert {"apiVersion", "kind"} <= doc.keys() and doc["metadata"]["name"]


# --- one name per service everywhere --------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_service_has_deployment_service_and_service_account(service: str) -> None:
    account = find("ServiceAccount", service)
    assert account.get("automountServiceAccountToken") is False
    pod = pod_spec(service)
    assert pod["serviceAccountName"] == service
    assert pod.get("automountServiceAccountToken") is False
    labels = pod_labels(service)
    assert selects(find("Deployment", service)["spec"]["selector"], labels)
    assert selects({"matchLabels": find("Service", service)["spec"]["selector"]}, labels)
    assert main_container(service)["args"] == [service]  # the image runs `pulih serve <args>`
    ports = {p["name"]: p["containerPort"] for p in main_container(service)["ports"]}
    for port in find("Service", service)["spec"]["ports"]:
        assert ports.get(port["targetPort"], port["targetPort"]) == 8000


@pytest.mark.parametrize("service", SERVICES)
def test_probes_use_the_health_endpoints(service: str) -> None:
    container = main_container(service)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe, path in (("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready")):
        get = container.get(probe, {}).get("httpGet", {})
        assert get.get("path") == path, f"{service} {probe} must GET {path}"
        assert ports.get(get["port"], get["port"]) == 8000


@pytest.mark.parametrize("service", SERVICES)
def test_pods_are_hardened(service: str) -> None:
    assert_hardened(pod_spec(service), service)


def assert_hardened(pod: Obj, name: str) -> None:
    pod_security = pod.get("securityContext", {})
    tmp_volumes = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        where = f"{name}/{container['name']}"
        security = container.get("securityContext", {})
        assert security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True, where
        assert security.get("readOnlyRootFilesystem") is True, where
        assert security.get("allowPrivilegeEscalation") is False, where
        assert "ALL" in security.get("capabilities", {}).get("drop", []), where
        seccomp = security.get("seccompProfile", pod_security.get("seccompProfile", {}))
        assert seccomp.get("type") == "RuntimeDefault", where
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= container.get("resources", {}).get(bound, {}).keys(), where
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        assert mounts.get("/tmp") in tmp_volumes, f"{where}: /tmp must be an emptyDir"
    assert pod_security.get("runAsUser", 10001) != 0


def test_reporting_rebuild_runs_on_demand_with_reportings_database_and_identity() -> None:
    cron = find("CronJob", "reporting-rebuild")
    assert cron["spec"]["suspend"] is True  # started by hand: kubectl create job --from
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]
    assert_hardened(pod["spec"], "reporting-rebuild")
    (container,) = pod["spec"]["containers"]
    assert [*container["command"], *container["args"]][:3] == ["pulih", "reporting", "rebuild"]
    env = env_of(container)
    url = urlsplit(env["PULIH_DATABASE_URL"]["value"])
    assert (url.hostname, url.path) == ("reporting-db-rw", "/reporting")
    assert env["PULIH_KAFKA_SASL_USERNAME"]["value"] == "reporting"
    labels = pod["metadata"]["labels"]
    guard = policy_for({"cnpg.io/cluster": "reporting-db"})
    assert any(
        selects(peer["podSelector"], labels)
        for rule in guard["spec"]["ingress"]
        for peer in rule.get("from", [])
        if "podSelector" in peer and "namespaceSelector" not in peer
    )
    own = policy_for(labels)
    assert not own["spec"].get("ingress")
    assert egress_to(own, "cnpg.io/cluster") == {"reporting-db": {5432}}


@pytest.mark.parametrize("service", SERVICES)
def test_autoscaler_owns_replicas_and_budget_covers_pods(service: str) -> None:
    hpa = find("HorizontalPodAutoscaler", service)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": service,
    }
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    # A Deployment's own replica count would reset the autoscaler on every apply.
    assert "replicas" not in find("Deployment", service)["spec"]
    budgets = [
        b
        for b in objects("PodDisruptionBudget")
        if selects(b["spec"]["selector"], pod_labels(service))
    ]
    assert len(budgets) == 1 and budgets[0]["spec"].keys() & {"minAvailable", "maxUnavailable"}


# --- each service owns its database ---------------------------------------------------------


@pytest.mark.parametrize("service", DB_SERVICES)
def test_service_owns_a_postgres_15_database(service: str) -> None:
    cluster = find("Cluster", f"{service}-db")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert cluster["spec"]["imageName"].rsplit(":", 1)[1].startswith("15")
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    assert initdb["database"] == initdb["owner"] == db_name(service)
    for container in [*pod_spec(service).get("initContainers", []), main_container(service)]:
        env = env_of(container)
        url = urlsplit(env["PULIH_DATABASE_URL"]["value"])
        assert url.scheme == "postgresql+asyncpg"
        assert (url.hostname, url.path) == (f"{service}-db-rw", f"/{db_name(service)}")
        secrets = {e["valueFrom"]["secretKeyRef"]["name"] for e in env.values() if "valueFrom" in e}
        assert {s for s in secrets if s.endswith("-db-app")} == {f"{service}-db-app"}

    services = compose()["services"]
    database = services[f"{service}-db"]
    assert database["image"].startswith("postgres:15")
    assert database["environment"]["POSTGRES_DB"] == db_name(service)
    url = urlsplit(services[service]["environment"]["PULIH_DATABASE_URL"])
    assert url.scheme == "postgresql+asyncpg"
    assert (url.hostname, url.path) == (f"{service}-db", f"/{db_name(service)}")
    assert (url.username, url.password) == (
        database["environment"]["POSTGRES_USER"],
        database["environment"]["POSTGRES_PASSWORD"],
    )
    assert services[service]["depends_on"][f"{service}-db"]["condition"] == "service_healthy"


def test_gateway_owns_no_database() -> None:
    assert not [c for c in objects("Cluster") if c["metadata"]["name"].startswith("gateway")]
    assert "PULIH_DATABASE_URL" not in env_of(main_container("gateway"))
    assert "PULIH_DATABASE_URL" not in compose()["services"]["gateway"]["environment"]
    assert "gateway-db" not in compose()["services"]


# --- docker compose -----------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_compose_runs_the_service_from_the_one_image(service: str) -> None:
    services = compose()["services"]
    spec = services[service]
    assert spec["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (ROOT / spec["build"]["context"] / spec["build"]["dockerfile"]).is_file()
    assert spec["image"] == services["registry"]["image"]
    assert spec["command"] == [service]
    assert spec["read_only"] is True
    assert "/tmp" in [mount.split(":")[0] for mount in spec["tmpfs"]]
    assert "/health/ready" in " ".join(spec["healthcheck"]["test"])
    assert all("condition" in dep for dep in spec["depends_on"].values())
    assert urlsplit("//" + spec["environment"]["KAFKA_BOOTSTRAP_SERVERS"]).hostname in services


def test_compose_kafka_is_a_single_kraft_node() -> None:
    services = compose()["services"]
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.")
    assert set(kafka["environment"]["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not [name for name, s in services.items() if "zookeeper" in s.get("image", "")]


def test_compose_sends_telemetry_to_a_collector_with_debug_and_prometheus_out() -> None:
    services = compose()["services"]
    collector = services["otel-collector"]
    assert collector["image"].startswith("otel/opentelemetry-collector-contrib:")
    config_path = collector["volumes"][0].split(":")[0]
    config = load(ROOT / config_path)[0]
    pipelines = config["service"]["pipelines"].values()
    used_exporters = {e for p in pipelines for e in p["exporters"]}
    assert {"debug", "prometheus"} <= used_exporters <= config["exporters"].keys()
    assert any("otlp" in p["receivers"] for p in pipelines)
    assert {r for p in pipelines for r in p["receivers"]} <= config["receivers"].keys()
    for service in SERVICES:
        endpoint = services[service]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
        assert urlsplit(endpoint).hostname == "otel-collector"


# --- kustomize structure ----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    sorted(p for p in K8S.rglob("*.y*ml") if is_kustomization(p)),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_kustomization_references_exist(path: Path) -> None:
    kustomization = load(path)[0]
    entries = [*kustomization.get("resources", []), *kustomization.get("components", [])]
    entries += [
        p["path"]
        for p in [*kustomization.get("patches", []), *kustomization.get("replacements", [])]
        if "path" in p
    ]
    for entry in entries:
        target = path.parent / entry
        assert target.exists(), f"{path.relative_to(ROOT)} refers to missing {entry}"
        if target.is_dir():
            assert any(is_kustomization(p) for p in target.iterdir()), (
                f"{entry} has no kustomization"
            )
    for component in kustomization.get("components", []):
        assert load(path.parent / component / "kustomization.yaml")[0]["kind"] == "Component"


def test_every_base_manifest_is_listed_in_its_kustomization() -> None:
    for path in (K8S / "base").rglob("*.y*ml"):
        if not is_kustomization(path) and path.resolve() not in referenced_files():
            listed = load(path.parent / "kustomization.yaml")[0].get("resources", [])
            assert path.name in listed, f"{path.relative_to(ROOT)} is not in its kustomization.yaml"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_made_from_the_one_shape(service: str) -> None:
    kustomization = load(K8S / "base" / service / "kustomization.yaml")[0]
    assert "../service" in kustomization["resources"]
    # The database component finds the objects by the placeholder name, so it comes first.
    assert kustomization["components"] == (
        ["../service/database", "../service/named"]
        if service in DB_SERVICES
        else ["../service/named"]
    )
    assert find("Deployment", service)  # named, with no SERVICE left anywhere
    assert "SERVICE" not in yaml.safe_dump_all(base())


def test_no_service_copies_the_shape() -> None:
    copies = [
        path.relative_to(ROOT)
        for path in (K8S / "base").rglob("*.y*ml")
        if path.parent != K8S / "base" / "service"
        and path.resolve() not in referenced_files()
        and not is_kustomization(path)
        and any(doc.get("kind") == "Deployment" for doc in load(path))
    ]
    assert not copies, f"a Deployment outside k8s/base/service: {copies}"


def test_overlays_build_on_the_base() -> None:
    for overlay in ("dev", "production"):
        kustomization = load(K8S / "overlays" / overlay / "kustomization.yaml")[0]
        assert "../../base" in kustomization["resources"]


# --- Kafka: topics and ACLs -----------------------------------------------------------------


def test_kafka_is_kraft_and_every_client_authenticates() -> None:
    (kafka,) = objects("Kafka")
    cluster = kafka["metadata"]["name"]
    assert "zookeeper" not in kafka["spec"]
    roles = {r for pool in objects("KafkaNodePool") for r in pool["spec"]["roles"]}
    assert {"controller", "broker"} <= roles
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    for listener in kafka["spec"]["kafka"]["listeners"]:
        assert listener.get("authentication"), f"listener {listener['name']} lets anyone in"
    # The operators ignore, silently, any resource that names another cluster.
    for kind in ("KafkaNodePool", "KafkaTopic", "KafkaUser"):
        for obj in objects(kind):
            assert obj["metadata"]["labels"]["strimzi.io/cluster"] == cluster, obj["metadata"][
                "name"
            ]


def test_canonical_topics_keep_events_forever() -> None:
    by_name = topics()
    for name in CANONICAL.values():
        assert int(by_name[name]["spec"]["config"]["retention.ms"]) == -1, name
        assert by_name[name]["spec"]["partitions"] >= 1
    # Overlays set partition counts by this label, so it must mark exactly the canonical topics.
    labelled = {
        topic_name(t)
        for t in objects("KafkaTopic")
        if t["metadata"]["labels"].get("pulih/topic-class") == "canonical"
    }
    assert labelled == set(CANONICAL.values())


@pytest.mark.parametrize("service", CONSUMERS)
def test_consumer_has_dead_letter_and_redrive_topics_only_it_reads(service: str) -> None:
    by_name = topics()
    dlq, redrive = f"ibm.{service}.dlq", f"ibm.{service}.redrive"
    assert int(by_name[dlq]["spec"]["config"]["retention.ms"]) == -1  # nothing dropped silently
    assert redrive in by_name
    user = find("KafkaUser", service)
    assert grants(user, "Write", "topic", dlq) and grants(user, "Read", "topic", redrive)
    assert grants(user, "Read", "group", service)
    for other in objects("KafkaUser"):
        if other["metadata"]["name"] != service:
            assert not grants(other, "Read", "topic", redrive), other["metadata"]["name"]
            assert not grants(other, "Read", "group", service), other["metadata"]["name"]


@pytest.mark.parametrize("service", DB_SERVICES)
def test_outbox_relay_has_its_marker_topic_and_transactional_id_only_it_uses(
    service: str,
) -> None:
    """The relay publishes in transactions (`shared/messaging/relay.py`): without the id's
    ACL it cannot start, and a marker topic of several partitions or deleted by retention
    would lose the last batch's marker."""
    marker = topics()[Topics().relayed(service)]
    assert marker["spec"]["partitions"] == 1
    assert marker["spec"]["config"]["cleanup.policy"] == "compact"
    user = find("KafkaUser", service)
    relay_id = transactional_id(Topics(), service)
    assert grants(user, "Write", "transactionalId", relay_id)
    assert grants(user, "Write", "topic", Topics().relayed(service))
    assert grants(user, "Read", "topic", Topics().relayed(service))
    for other in objects("KafkaUser"):
        if other["metadata"]["name"] != service:
            assert not grants(other, "Write", "transactionalId", relay_id)


@pytest.mark.parametrize("service", SERVICES)
def test_service_writes_only_its_own_canonical_topic(service: str) -> None:
    user = find("KafkaUser", service)
    writable = {t for t in CANONICAL.values() if grants(user, "Write", "topic", t)}
    assert writable == ({CANONICAL[service]} if service in CANONICAL else set())


def test_reporting_can_replay_every_canonical_topic() -> None:
    user = find("KafkaUser", "reporting")
    assert all(grants(user, "Read", "topic", t) for t in CANONICAL.values())


def test_province_speaks_only_for_itself() -> None:
    user = find("KafkaUser", "province-74")
    assert {"ibm.inbound.74", "ibm.receipts.74"} <= topics().keys()
    assert grants(user, "Write", "topic", "ibm.inbound.74")
    assert grants(user, "Read", "topic", "ibm.receipts.74")
    assert not grants(user, "Write", "topic", "ibm.inbound.73")
    assert not grants(user, "Read", "topic", "ibm.receipts.73")
    assert not [t for t in CANONICAL.values() if grants(user, "Write", "topic", t)]


# --- network policies -------------------------------------------------------------------


def policy_for(labels: dict[str, str]) -> Obj:
    found = [p for p in objects("NetworkPolicy") if selects(p["spec"]["podSelector"], labels)]
    assert len(found) == 1, f"expected one NetworkPolicy for {labels}, found {len(found)}"
    return found[0]


def egress_to(policy: Obj, label: str) -> dict[str, set[int]]:
    """Label value -> ports, for every egress peer selecting pods by `label`."""
    out: dict[str, set[int]] = {}
    for rule in policy["spec"].get("egress", []):
        for peer in rule.get("to", []):
            if value := peer.get("podSelector", {}).get("matchLabels", {}).get(label):
                out.setdefault(value, set()).update(p["port"] for p in rule.get("ports", []))
    return out


@pytest.mark.parametrize("service", SERVICES)
def test_network_policy_admits_outside_traffic_only_at_the_gateway(service: str) -> None:
    policy = policy_for(pod_labels(service))
    assert {"Ingress", "Egress"} <= set(policy["spec"]["policyTypes"])
    rules = policy["spec"].get("ingress", [])
    if service == "gateway":
        assert any(not rule.get("from") for rule in rules), "the gateway must be reachable"
        return
    for rule in rules:
        assert rule.get("from"), f"{service} accepts traffic from anywhere"
        for peer in rule["from"]:
            assert "ipBlock" not in peer
            if "namespaceSelector" in peer:  # Prometheus scraping /metrics
                assert peer["namespaceSelector"]["matchLabels"] == {
                    "kubernetes.io/metadata.name": "monitoring"
                }
            else:
                assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "gateway"}


@pytest.mark.parametrize("service", SERVICES)
def test_network_policy_lets_the_service_reach_kafka_and_only_its_own_database(
    service: str,
) -> None:
    policy = policy_for(pod_labels(service))
    assert 9093 in egress_to(policy, "strimzi.io/cluster").get("pulih", set())
    databases = egress_to(policy, "cnpg.io/cluster")
    assert databases == ({f"{service}-db": {5432}} if service in DB_SERVICES else {})
    if service in DB_SERVICES:
        guard = policy_for({"cnpg.io/cluster": f"{service}-db"})
        apps = {
            peer["podSelector"]["matchLabels"].get("app.kubernetes.io/name")
            for rule in guard["spec"]["ingress"]
            for peer in rule.get("from", [])
            if "podSelector" in peer and "namespaceSelector" not in peer
        }
        # reporting's database also admits the on-demand rebuild job (reporting's own code)
        rebuild = {"reporting-rebuild"} if service == "reporting" else set()
        assert apps - {None} == {service} | rebuild


# --- secrets and environments -------------------------------------------------------------


def test_secret_key_comes_from_a_secret_never_a_literal() -> None:
    assert not objects("Secret"), "the base must not carry secrets"
    for service in SERVICES:
        for container in [
            *pod_spec(service).get("initContainers", []),
            *pod_spec(service)["containers"],
        ]:
            key = env_of(container)["PULIH_SECRET_KEY"]
            assert key["valueFrom"]["secretKeyRef"]["name"] == "pulih-secrets"


def test_only_the_dev_overlay_generates_the_secret_and_with_the_refused_dev_value() -> None:
    dev = load(K8S / "overlays/dev/kustomization.yaml")[0]
    (secret,) = [s for s in dev["secretGenerator"] if s["name"] == "pulih-secrets"]
    assert secret["literals"] == [f"secret-key={DEV_SECRET}"]
    (config,) = [c for c in dev["configMapGenerator"] if c["name"] == "pulih-config"]
    assert "PULIH_ENVIRONMENT=development" in config["literals"]

    production = load(K8S / "overlays/production/kustomization.yaml")[0]
    assert not production.get("secretGenerator"), "production reads an existing Secret"
    (config,) = [c for c in production["configMapGenerator"] if c["name"] == "pulih-config"]
    assert config["behavior"] == "merge" and "PULIH_ENVIRONMENT=production" in config["literals"]


# --- the image --------------------------------------------------------------------------


def test_dockerfile_builds_one_non_root_image_for_every_service() -> None:
    text = (ROOT / "deploy/Dockerfile").read_text()
    lines = [
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in lines
    assert sum(line.startswith("FROM ${PYTHON_IMAGE}") for line in lines) >= 2  # multi-stage
    last_stage = text[text.rindex("FROM ") :]
    assert "USER 10001" in last_stage
    assert 'ENTRYPOINT ["pulih", "serve"]' in last_stage
    assert "PULIH_STATE_DIR=/tmp/pulih" in last_stage
    assert "pip install -c constraints.txt ." in text and "[dev]" not in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "*" in ignored or {".venv", ".git"} <= set(ignored)


# --- rendered overlays ---------------------------------------------------------------------


def test_overlays_render_with_production_scaled_up() -> None:
    dev, production = list(rendered("dev")), list(rendered("production"))

    def pick(docs: list[Obj], kind: str) -> dict[str, Obj]:
        return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}

    (config,) = pick(production, "ConfigMap").values()
    assert config["data"]["PULIH_ENVIRONMENT"] == "production"
    assert not pick(production, "Secret")
    secrets = pick(dev, "Secret")
    (secret,) = [name for name in secrets if name.startswith("pulih-secrets")]
    deployment = pick(dev, "Deployment")["registry"]
    key = env_of(deployment["spec"]["template"]["spec"]["containers"][0])["PULIH_SECRET_KEY"]
    assert key["valueFrom"]["secretKeyRef"]["name"] == secret
    # client-case reads its identity keys from their own Secret, generated only in dev.
    (keys,) = [name for name in secrets if name.startswith("client-case-keys")]
    cases = pick(dev, "Deployment")["client-case"]["spec"]["template"]["spec"]["containers"][0]
    assert {"secretRef": {"name": keys}} in cases["envFrom"]
    # So does the registry its master keys (agents' display names).
    (keys,) = [name for name in secrets if name.startswith("registry-keys")]
    registry = deployment["spec"]["template"]["spec"]
    for container in (*registry["initContainers"], *registry["containers"]):
        assert {"secretRef": {"name": keys}} in container["envFrom"]
    for name, hpa in pick(production, "HorizontalPodAutoscaler").items():
        assert (
            hpa["spec"]["minReplicas"]
            > pick(dev, "HorizontalPodAutoscaler")[name]["spec"]["minReplicas"]
        )
    for name, cluster in pick(production, "Cluster").items():
        assert cluster["spec"]["instances"] > pick(dev, "Cluster")[name]["spec"]["instances"]


def test_the_image_carries_every_file_the_dashboard_serves() -> None:
    """The image installs the package (not a checkout): the dashboard's page, boundaries and
    npm files must be package data, and its npm packages installed before `pip install .`."""
    import fnmatch
    import tomllib

    from services.gateway import dashboard

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["services.gateway.dashboard"]
    here = Path(dashboard.__file__).parent
    served = [*dashboard.STATIC.iterdir(), *dashboard.BOUNDARIES.iterdir()]
    served += dashboard.VENDOR.values()
    for path in served:
        relative = path.relative_to(here).as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative
    text = (ROOT / "deploy/Dockerfile").read_text()
    modules = "COPY --from=dashboard /dashboard/node_modules ./services/gateway/dashboard/"
    assert text.index(modules) < text.index("pip install -c constraints.txt .")
