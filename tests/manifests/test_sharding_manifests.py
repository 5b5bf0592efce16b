"""The optional sharding RBAC (manifests/sharding/): the kustomization lists its one file, and
its roles grant what ``zenflow.controller.sharding`` calls -- membership Leases read, renewed,
listed, watched and collected in the controller's namespace; labels patched on JobFlows and
CronJobFlows; a moving flow's Jobs listed and relabelled -- bound to the controller's
ServiceAccount; the default install grants none of it (tests/manifests/test_rbac.py)."""

from __future__ import annotations

from typing import Any

import yaml

from tests.manifests.helpers import MANIFESTS_DIR, find, load_documents

SHARDING = MANIFESTS_DIR / "sharding"


def verbs(role: dict[str, Any], group: str, resource: str) -> set[str]:
    return {
        verb
        for rule in role["rules"]
        if group in rule["apiGroups"] and resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_sharding_rbac_grants_what_the_sharder_calls() -> None:
    kustomization = yaml.safe_load((SHARDING / "Kustomization").read_text())
    assert kustomization["resources"] == ["rbac-sharding.yaml"]
    docs = load_documents([SHARDING / "rbac-sharding.yaml"])
    role = find(docs, "Role", "zenflow-controller-sharding")
    assert role["metadata"]["namespace"] == "zenflow-system"
    assert {"get", "list", "watch", "create", "update", "delete"} <= verbs(
        role, "coordination.k8s.io", "leases"
    )
    cluster = find(docs, "ClusterRole", "zenflow-controller-sharding")
    for resource in ("jobflows", "cronjobflows"):
        assert "patch" in verbs(cluster, "workflow.zen.io", resource)
    assert {"list", "patch"} <= verbs(cluster, "batch", "jobs")
    for kind in ("RoleBinding", "ClusterRoleBinding"):
        binding = find(docs, kind, "zenflow-controller-sharding")
        (subject,) = binding["subjects"]
        assert (subject["name"], subject["namespace"]) == ("zenflow-controller", "zenflow-system")
