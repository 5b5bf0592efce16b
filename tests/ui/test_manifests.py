"""manifests/ui/ (the optional in-cluster UI) stays read-only and unreachable but by
port-forward:

- the kustomization lists every file of the directory;
- the ServiceAccount's ClusterRole grants read verbs only;
- the Deployment runs ``zenflow ui`` with --read-only, bound to 127.0.0.1, probes from inside,
  and meets the restricted Pod Security Standard's container settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

UI = Path(__file__).resolve().parents[2] / "manifests" / "ui"
READ_VERBS = {"get", "list", "watch"}


def _docs() -> list[dict[str, Any]]:
    return [d for p in sorted(UI.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]


def _kind(kind: str) -> dict[str, Any]:
    [doc] = [d for d in _docs() if d["kind"] == kind]
    return doc


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((UI / "Kustomization").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in UI.glob("*.yaml"))


def test_the_cluster_role_only_reads() -> None:
    rules = _kind("ClusterRole")["rules"]
    assert {verb for rule in rules for verb in rule["verbs"]} <= READ_VERBS
    binding = _kind("ClusterRoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "zenflow-ui", "namespace": "zenflow-system"}
    ]


def test_the_deployment_serves_read_only_on_loopback() -> None:
    pod = _kind("Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "zenflow-ui"
    [container] = pod["containers"]
    assert container["command"] == ["zenflow"]
    args = container["args"]
    assert args[0] == "ui"
    assert "--read-only" in args
    assert "--host=127.0.0.1" in args
    assert "exec" in container["livenessProbe"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
