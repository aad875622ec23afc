"""What an operator relies on in the manifests: the gateway reaches the services, every
database is backed up and the restore drill recovers from those very backups, and the runbook
names every Secret the manifests need (docs/operations.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.unit.deploy.validation import K8S, render, rendered, validate

ROOT = Path(__file__).resolve().parents[3]
DB_SERVICES = ("registry", "client-case", "scheduling", "reporting")
RUNBOOK = ROOT / "docs" / "operations.md"

Obj = dict[str, Any]


def of_kind(docs: tuple[Obj, ...] | list[Obj], kind: str) -> dict[str, Obj]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_the_gateway_reaches_each_service_at_its_kubernetes_service() -> None:
    from services.gateway.settings import Settings

    for overlay in ("dev", "production"):
        docs = rendered(overlay)
        services = of_kind(docs, "Service")
        gateway = of_kind(docs, "Deployment")["gateway"]["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in gateway["containers"][0]["env"]}
        for service in DB_SERVICES:
            field = f"{service.replace('-', '_')}_url"
            assert field in Settings.model_fields
            url = urlsplit(env[f"PULIH_{field.upper()}"])
            port = services[service]["spec"]["ports"][0]["port"]
            assert (url.hostname, url.port) == (service, port), (overlay, url)


def test_production_backs_up_every_database_nightly_with_wal_archiving() -> None:
    docs = rendered("production")
    clusters = of_kind(docs, "Cluster")
    assert set(clusters) == {f"{s}-db" for s in DB_SERVICES}
    scheduled = of_kind(docs, "ScheduledBackup")
    for name, cluster in clusters.items():
        store = cluster["spec"]["backup"]["barmanObjectStore"]
        assert store["destinationPath"].startswith("s3://")
        assert store["s3Credentials"]["accessKeyId"]["name"] == "pulih-backup-s3"
        assert cluster["spec"]["backup"]["retentionPolicy"].endswith("d")
        (backup,) = [b for b in scheduled.values() if b["spec"]["cluster"]["name"] == name]
        assert backup["spec"]["method"] == "barmanObjectStore"
        assert len(backup["spec"]["schedule"].split()) == 6  # CloudNativePG: seconds first
    # A development cluster has no bucket: WAL archiving there would only fill its disks.
    assert not of_kind(rendered("dev"), "ScheduledBackup")
    assert all("backup" not in c["spec"] for c in of_kind(rendered("dev"), "Cluster").values())


def test_the_restore_drill_recovers_from_the_bucket_production_writes() -> None:
    drill = render(K8S / "drills" / "restore")
    for doc in drill:
        validate(doc)
    (restored,) = of_kind(drill, "Cluster").values()
    live = of_kind(rendered("production"), "Cluster")
    recovery = restored["spec"]["bootstrap"]["recovery"]
    (source,) = restored["spec"]["externalClusters"]
    assert source["name"] == recovery["source"]
    original = live[source["barmanObjectStore"]["serverName"]]
    assert restored["metadata"]["name"] not in live  # beside the live database, never over it
    written = original["spec"]["backup"]["barmanObjectStore"]
    read = source["barmanObjectStore"]
    for key in ("destinationPath", "endpointURL", "s3Credentials"):
        assert read[key] == written[key], key
    initdb = original["spec"]["bootstrap"]["initdb"]
    assert (recovery["database"], recovery["owner"]) == (initdb["database"], initdb["owner"])
    assert restored["spec"]["imageName"] == original["spec"]["imageName"]


def referenced_secrets(docs: tuple[Obj, ...]) -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("secretKeyRef", "secretRef"):
                if isinstance(node.get(key), dict):
                    found.add(node[key]["name"])
            if isinstance(node.get("secretName"), str):
                found.add(node["secretName"])
            for key in ("accessKeyId", "secretAccessKey"):
                if isinstance(node.get(key), dict):
                    found.add(node[key]["name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(list(docs))
    return found


def test_the_runbook_names_every_secret_production_needs() -> None:
    secrets = referenced_secrets(rendered("production"))
    assert {"pulih-secrets", "client-case-keys", "registry-keys", "pulih-backup-s3"} <= secrets
    runbook = RUNBOOK.read_text()
    missing = sorted(name for name in secrets if f"`{name}`" not in runbook)
    assert not missing, f"docs/operations.md does not say where these come from: {missing}"
