"""manifests/monitoring/ refers only to what zenflow exports and to objects that exist.

Aspects: every metric name in the PrometheusRule expressions and the Grafana dashboard is a
series some zenflow registry exports (machinery, controller, webhook families, registered on one
registry as in the controller process), or Prometheus' own ``up``; label values that name our
objects (lease, controllers) are the code's; the ServiceMonitor selects the metrics Service by
its labels and port name; the dashboard is valid JSON with unique panel ids; and `kubectl
kustomize` renders both kustomizations (integration: it needs the kubectl binary).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from tests.manifests.helpers import MANIFESTS_DIR, find, load_documents, manifest_files
from zenflow.controller.cronjobflow.reconciler import CONTROLLER_NAME as CRON_CONTROLLER
from zenflow.controller.jobflow.metrics import FlowMetrics
from zenflow.controller.settings import ControllerSettings
from zenflow.controller.setup import JOBFLOW_CONTROLLER
from zenflow.envtest.controlplane import ControlPlane
from zenflow.machinery.metrics import machinery_metrics
from zenflow.webhook.metrics import webhook_metrics

MONITORING = MANIFESTS_DIR / "monitoring"
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
}
METRIC = re.compile(r"\b((?:zenflow|controller_runtime|workqueue|leader_election)_[a-z_]+)\b")


def exported_series() -> set[str]:
    registry = CollectorRegistry()
    machinery_metrics(registry)
    FlowMetrics(registry)
    webhook_metrics(registry)
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + s for s in SUFFIXES.get(family.type, ("",)))
    return names


def expressions() -> Iterator[tuple[str, str]]:
    rule = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    for group in rule["spec"]["groups"]:
        for r in group["rules"]:
            yield f"alert {r['alert']}", r["expr"]
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield f"panel {panel['title']}", target["expr"]


@pytest.mark.parametrize(("where", "expr"), [pytest.param(w, e, id=w) for w, e in expressions()])
def test_expressions_use_exported_metrics(where: str, expr: str) -> None:
    used = set(METRIC.findall(expr))
    assert used or "up{" in expr, f"{where}: no metric in {expr!r}"
    assert used <= exported_series(), f"{where}: unknown {sorted(used - exported_series())}"


def test_label_values_name_our_objects() -> None:
    text = " ".join(expr for _, expr in expressions())
    assert set(re.findall(r'leader_election_master_status\{name="([^"]+)"', text)) == {
        ControllerSettings().lease_name
    }
    controllers = set(re.findall(r'(?:controller|name)="(jobflow|cronjobflow|[^"]*flows?)"', text))
    assert controllers <= {JOBFLOW_CONTROLLER, CRON_CONTROLLER}
    assert set(re.findall(r'job="([^"]+)"', text)) == {"zenflow-controller-metrics"}


def test_service_monitor_selects_the_metrics_service() -> None:
    monitor = yaml.safe_load((MONITORING / "servicemonitor.yaml").read_text())
    service: dict[str, Any] = find(
        load_documents(manifest_files()), "Service", "zenflow-controller-metrics"
    )
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {
        p["name"] for p in service["spec"]["ports"]
    }


def test_dashboard_panels_have_unique_ids() -> None:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert dashboard["uid"] == "zenflow-overview"


def test_kustomizations_render(control_plane: ControlPlane) -> None:
    main = control_plane.kubectl("kustomize", str(MANIFESTS_DIR)).stdout
    kinds = {d["kind"] for d in yaml.safe_load_all(main) if d}
    assert {"Deployment", "ValidatingWebhookConfiguration", "ClusterRole"} <= kinds
    monitoring = control_plane.kubectl("kustomize", str(MONITORING)).stdout
    docs = [d for d in yaml.safe_load_all(monitoring) if d]
    dashboard = next(d for d in docs if d["kind"] == "ConfigMap")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["grafana-dashboard.json"])["title"] == "zenflow"
    assert {d["kind"] for d in docs} == {"ConfigMap", "ServiceMonitor", "PrometheusRule"}
