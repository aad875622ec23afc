"""The metrics' table, the Grafana dashboard and the alert rules say the same thing as the code:
every metric a service exposes is in the table and on the dashboard, every name the table,
the dashboard and the alerts use exists, and every alert has its section in the docs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

import services.reporting.projector.consumer
import shared.metrics

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs/observability.md").read_text()
DASHBOARD: dict[str, Any] = json.loads((ROOT / "deploy/grafana/pulih.json").read_text())
RULES: dict[str, Any] = yaml.safe_load((ROOT / "k8s/base/monitoring/alerts.yaml").read_text())
SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


def exposed() -> dict[str, str]:
    """Every pulih_* metric family registered in this process, by name, with its type."""
    return {
        (m.name + "_total" if m.type == "counter" else m.name): m.type
        for m in REGISTRY.collect()
        if m.name.startswith("pulih_")
    }


def family(name: str) -> str:
    """The name as documented: counters with `_total`, histograms without a sample suffix."""
    if name.endswith("_total"):
        return name
    for suffix in SUFFIXES[1:]:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def tabled() -> dict[str, str]:
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \|", DOC, re.MULTILINE)
    return dict(rows)


def names_in(text: str) -> set[str]:
    return {family(n) for n in re.findall(r"\bpulih_\w+", text)}


def dashboard_exprs() -> list[str]:
    panels = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
    return [t["expr"] for p in panels for t in p["targets"]]


def alerts() -> list[dict[str, Any]]:
    return [rule for group in RULES["spec"]["groups"] for rule in group["rules"]]


def test_every_metric_is_in_the_table_with_its_type() -> None:
    table = tabled()
    assert {n: t for n, t in table.items() if n != "up"} == exposed()
    for name in ("pulih_consumer_lag", "pulih_outbox_oldest_age_seconds", "pulih_receipts_total"):
        assert name in table  # the list: lag, outbox age, receipts, …
    assert "pulih_http_request_duration_seconds" in table


def test_the_dashboard_shows_every_metric_and_only_those() -> None:
    shown = set().union(*(names_in(e) for e in dashboard_exprs()))
    assert shown <= exposed().keys()
    missing = (
        exposed().keys()
        - shown
        - {
            # reporting's own counters: its events also count in pulih_events_consumed_total and
            # pulih_dead_letters_total, which the dashboard shows
            "pulih_reporting_events_projected_total",
            "pulih_reporting_events_dead_lettered_total",
        }
    )
    assert not missing


def test_the_dashboard_is_importable() -> None:
    assert DASHBOARD["schemaVersion"] >= 39
    assert DASHBOARD["uid"] and DASHBOARD["title"]
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in DASHBOARD["templating"]["list"]}
    assert {"datasource", "service"} <= variables
    for panel in DASHBOARD["panels"]:
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys()
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}"
            assert panel["targets"] and panel["description"]


def test_every_alert_reads_real_metrics_and_has_a_runbook_section() -> None:
    rules = alerts()
    named = {r["alert"] for r in rules}
    # The list: dead letters, lag, outbox age, internal errors, 5xx, a service down.
    assert {
        "PulihDeadLetters",
        "PulihConsumerLagHigh",
        "PulihConsumerLagGrowing",
        "PulihOutboxStuck",
        "PulihReceiptsInternalError",
        "PulihHttp5xx",
        "PulihServiceDown",
    } <= named
    headings = {h.lower() for h in re.findall(r"^### (\w+)", DOC, re.MULTILINE)}
    for rule in rules:
        assert names_in(rule["expr"]) <= exposed().keys(), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}
        runbook = rule["annotations"]["runbook"]
        assert runbook.startswith("docs/observability.md#")
        assert runbook.split("#", 1)[1] in headings, rule["alert"]
        assert rule["alert"] in DOC


def test_labels_never_carry_ids() -> None:
    """Only low-cardinality label names: no id, name, key or value of anything submitted."""
    allowed = {"service", "group", "topic", "partition", "province", "outcome", "kind"}
    allowed |= {"method", "route", "status", "le"}
    metrics = [
        m
        for module in (shared.metrics, services.reporting.projector.consumer)
        for m in vars(module).values()
        if isinstance(m, MetricWrapperBase)
    ]
    assert len(metrics) == len(exposed())
    for metric in metrics:
        assert set(metric._labelnames) <= allowed, metric
    for name, labels in re.findall(r"^\| `(pulih_\w+)` \| \w+ \| ([^|]*) \|", DOC, re.MULTILINE):
        assert set(re.findall(r"`(\w+)`", labels)) <= allowed, name
