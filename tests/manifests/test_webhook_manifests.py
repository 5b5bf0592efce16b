"""manifests/ for the webhook's hardening: the created-by recorder, its RBAC, the NetworkPolicy.

Aspects (static): the MutatingWebhookConfiguration calls /mutate on the same Service as the
validating one, for the same rules, and never reinvokes; the webhook's ClusterRole grants create
on subjectaccessreviews and get/patch on its own mutating configuration only, bound to the
controller's ServiceAccount; the NetworkPolicy selects the controller's pods, admits only an
ipBlock to the webhook port and only the monitoring namespace to the metrics port, by the
Deployment's own port names; docs/SECURITY.md is linked from the README and names only flags
that exist. On the real API server: the ServiceAccount holds those grants and
not their neighbours; the NetworkPolicy overlay passes a server-side dry run.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest
import yaml

from tests.manifests.helpers import (
    MANIFESTS_DIR,
    NAMESPACE,
    ROOT,
    SERVICE_ACCOUNT,
    find,
    install_identity,
    load_documents,
    manifest_files,
)
from zenflow.envtest.controlplane import ControlPlane
from zenflow.webhook.flags import DEFAULT_CONFIG, DEFAULT_SERVICE
from zenflow.webhook.server import MUTATE_PATH

POLICY_DIR = MANIFESTS_DIR / "networkpolicy"


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return load_documents(manifest_files())


def test_mutating_configuration_mirrors_the_validating_one(docs: list[dict[str, Any]]) -> None:
    validating = find(docs, "ValidatingWebhookConfiguration", DEFAULT_CONFIG)["webhooks"][0]
    (hook,) = find(docs, "MutatingWebhookConfiguration", DEFAULT_CONFIG)["webhooks"]
    assert hook["clientConfig"]["service"] == {
        **validating["clientConfig"]["service"],
        "path": MUTATE_PATH,
    }
    assert hook["clientConfig"]["service"]["name"] == DEFAULT_SERVICE
    assert hook["rules"] == validating["rules"]
    assert hook["reinvocationPolicy"] == "Never"
    assert (hook["sideEffects"], hook["failurePolicy"]) == ("None", "Fail")
    assert hook["timeoutSeconds"] == validating["timeoutSeconds"]


def test_webhook_role_grants_access_reviews_and_its_own_configuration(
    docs: list[dict[str, Any]],
) -> None:
    role = find(docs, "ClusterRole", "zenflow-webhook")
    rules = {(r["apiGroups"][0], r["resources"][0]): r for r in role["rules"]}
    assert rules[("authorization.k8s.io", "subjectaccessreviews")]["verbs"] == ["create"]
    mutating = rules[("admissionregistration.k8s.io", "mutatingwebhookconfigurations")]
    assert (mutating["resourceNames"], sorted(mutating["verbs"])) == (
        [DEFAULT_CONFIG],
        ["get", "patch"],
    )
    binding = find(docs, "ClusterRoleBinding", "zenflow-webhook")
    assert binding["roleRef"]["name"] == "zenflow-webhook"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}
    ]


def test_network_policy_admits_only_the_api_server_and_monitoring(
    docs: list[dict[str, Any]],
) -> None:
    kustomization = yaml.safe_load((POLICY_DIR / "Kustomization").read_text())
    assert kustomization["resources"] == ["networkpolicy.yaml"]
    (policy,) = load_documents([POLICY_DIR / "networkpolicy.yaml"])
    assert policy["kind"] == "NetworkPolicy"
    assert policy["metadata"]["namespace"] == NAMESPACE
    pod = find(docs, "Deployment", "zenflow-controller")["spec"]["template"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    ports = {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
    webhook, metrics = policy["spec"]["ingress"]
    assert [p["port"] for p in webhook["ports"]] == ["webhook"]
    assert [set(peer) for peer in webhook["from"]] == [{"ipBlock"}]
    assert [p["port"] for p in metrics["ports"]] == ["http"]
    assert metrics["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    assert {"webhook", "http"} <= ports


GRANTED = [
    ("create", "subjectaccessreviews.authorization.k8s.io", True),
    ("get", f"mutatingwebhookconfigurations/{DEFAULT_CONFIG}", True),
    ("patch", f"mutatingwebhookconfigurations/{DEFAULT_CONFIG}", True),
    ("patch", "mutatingwebhookconfigurations/other", False),
    ("list", "mutatingwebhookconfigurations", False),
    ("delete", f"mutatingwebhookconfigurations/{DEFAULT_CONFIG}", False),
    ("create", "selfsubjectrulesreviews.authorization.k8s.io", True),  # everyone's, not ours
    ("create", "localsubjectaccessreviews.authorization.k8s.io", False),
    ("create", "tokenreviews.authentication.k8s.io", False),
]


@pytest.mark.parametrize(
    ("verb", "resource", "allowed"), [pytest.param(*c, id=f"{c[0]} {c[1]}") for c in GRANTED]
)
def test_service_account_holds_the_webhook_grants(
    control_plane: ControlPlane, verb: str, resource: str, allowed: bool
) -> None:
    install_identity(control_plane)
    token = control_plane.create_token(namespace=NAMESPACE, service_account=SERVICE_ACCOUNT)
    out = control_plane.kubectl("auth", "can-i", verb, resource, "-A", as_token=token, check=False)
    assert out.returncode in (0, 1), out.stderr
    assert (out.returncode == 0) is allowed, out.stdout


def test_network_policy_dry_run(control_plane: ControlPlane) -> None:
    control_plane.kubectl("apply", "-f", str(MANIFESTS_DIR / "namespace.yaml"))
    out = control_plane.kubectl("apply", "--dry-run=server", "-k", str(POLICY_DIR))
    assert "networkpolicy.networking.k8s.io/zenflow-controller created (server dry run)" in (
        out.stdout
    )


def test_security_doc_is_linked_and_names_real_flags() -> None:
    """docs/SECURITY.md is reachable from the README, and every zenflow flag it names exists."""
    doc = (ROOT / "docs" / "SECURITY.md").read_text()
    assert "docs/SECURITY.md" in (ROOT / "README.md").read_text()
    named = set(re.findall(r"(--(?:webhook-[a-z-]+|no-authorize-flows))\b", doc))
    assert "--no-authorize-flows" in named
    out = subprocess.run(
        [sys.executable, "-m", "zenflow", "controller", "--help"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert not [flag for flag in named if flag not in out.stdout], out.stdout
