"""Static checks of manifests/ (no cluster): what the operator applies says what the code expects.

Aspects: every document parses and is named; namespaced objects live in zenflow-system; the
Kustomization lists every manifest; the Deployment (2 replicas, leader election, downward API,
probes on real ports, resources, restricted security context, /tmp emptyDir) agrees with the
image and the webhook's defaults; the webhook Service and ValidatingWebhookConfiguration point at
each other with the settings the issue fixes; RBAC resourceNames are the names the code uses.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.manifests.helpers import MANIFESTS_DIR, find, load_documents, manifest_files
from zenflow.api.constants import CRONJOBFLOW_PLURAL, GROUP, JOBFLOW_PLURAL, VERSION
from zenflow.cli.main import build_parser
from zenflow.controller.settings import ControllerSettings, settings_from_args
from zenflow.webhook.flags import DEFAULT_CONFIG, DEFAULT_PORT, DEFAULT_SECRET, DEFAULT_SERVICE
from zenflow.webhook.options import options_from_args
from zenflow.webhook.server import VALIDATE_PATH

CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return load_documents(manifest_files())


def test_every_document_is_named_and_placed(docs: list[dict[str, Any]]) -> None:
    assert docs
    for doc in docs:
        meta = doc["metadata"]
        assert doc["apiVersion"], doc
        assert doc["kind"], doc
        assert meta["name"], doc
        assert meta.get("labels", {}).get("app.kubernetes.io/name") == "zenflow", meta["name"]
        if doc["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in meta
        else:
            assert meta["namespace"] == "zenflow-system", (doc["kind"], meta["name"])


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((MANIFESTS_DIR / "Kustomization").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in manifest_files())


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = find(docs, "Deployment", "zenflow-controller")
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    assert isinstance(only, dict)
    return only


def test_deployment_shape(docs: list[dict[str, Any]]) -> None:
    deployment = find(docs, "Deployment", "zenflow-controller")
    pod = deployment["spec"]["template"]["spec"]
    c = container(docs)
    assert deployment["spec"]["replicas"] == 2
    assert pod["serviceAccountName"] == "zenflow-controller"
    assert "--leader-election" in c["args"]
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in c["env"]}
    assert env == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["webhook"] == DEFAULT_PORT
    assert c["readinessProbe"]["httpGet"] == {
        "path": "/readyz",
        "port": "webhook",
        "scheme": "HTTPS",
    }
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["livenessProbe"]["httpGet"]["port"] in ports
    assert set(c["resources"]["requests"]) == {"cpu", "memory"}
    assert "memory" in c["resources"]["limits"]


def test_restricted_security_context(docs: list[dict[str, Any]]) -> None:
    pod = find(docs, "Deployment", "zenflow-controller")["spec"]["template"]["spec"]
    c = container(docs)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


def test_webhook_service_and_configuration_agree(docs: list[dict[str, Any]]) -> None:
    service = find(docs, "Service", DEFAULT_SERVICE)
    (port,) = service["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (443, "webhook")
    pod_labels = find(docs, "Deployment", "zenflow-controller")["spec"]["template"]["metadata"][
        "labels"
    ]
    assert service["spec"]["selector"].items() <= pod_labels.items()

    config = find(docs, "ValidatingWebhookConfiguration", DEFAULT_CONFIG)
    (hook,) = config["webhooks"]
    assert hook["clientConfig"] == {
        "service": {
            "name": DEFAULT_SERVICE,
            "namespace": "zenflow-system",
            "path": VALIDATE_PATH,
            "port": 443,
        }
    }
    assert hook["failurePolicy"] == "Fail"
    assert hook["sideEffects"] == "None"
    assert hook["admissionReviewVersions"] == ["v1"]
    assert hook["matchPolicy"] == "Equivalent"
    assert 1 <= hook["timeoutSeconds"] <= 10
    (rule,) = hook["rules"]
    assert rule["apiGroups"] == [GROUP]
    assert rule["apiVersions"] == [VERSION]
    assert sorted(rule["resources"]) == sorted([JOBFLOW_PLURAL, CRONJOBFLOW_PLURAL])
    assert sorted(rule["operations"]) == ["CREATE", "UPDATE"]


def test_deployment_args_match_webhook_defaults(docs: list[dict[str, Any]]) -> None:
    args = container(docs)["args"]
    assert f"--webhook-secret-name={DEFAULT_SECRET}" in args
    assert f"--webhook-config-name={DEFAULT_CONFIG}" in args
    assert f"--webhook-service-name={DEFAULT_SERVICE}" in args


def test_rbac_resource_names_are_the_ones_the_code_uses(docs: list[dict[str, Any]]) -> None:
    role = find(docs, "Role", "zenflow-controller")
    named = {(r["resources"][0], tuple(r.get("resourceNames", []))) for r in role["rules"]}
    assert ("secrets", (DEFAULT_SECRET,)) in named
    assert ("leases", (ControllerSettings().lease_name,)) in named
    cluster = find(docs, "ClusterRole", "zenflow-controller")
    webhook_rule = next(
        r for r in cluster["rules"] if r["resources"] == ["validatingwebhookconfigurations"]
    )
    assert webhook_rule["resourceNames"] == [DEFAULT_CONFIG]
    assert sorted(webhook_rule["verbs"]) == ["get", "patch"]


def test_aggregated_roles(docs: list[dict[str, Any]]) -> None:
    view = find(docs, "ClusterRole", "zenflow-view")
    edit = find(docs, "ClusterRole", "zenflow-edit")
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    assert {v for r in view["rules"] for v in r["verbs"]} == {"get", "list", "watch"}


def test_deployment_args_are_accepted_by_the_entrypoint(docs: list[dict[str, Any]]) -> None:
    """The image runs `zenflow controller ARGS`: the real parser and settings must take them."""
    args = build_parser().parse_args(["controller", *container(docs)["args"]])
    settings = settings_from_args(args, env={})
    options = options_from_args(args)
    assert settings.leader_election is True
    ports = {p["name"]: p["containerPort"] for p in container(docs)["ports"]}
    assert settings.http_port == ports["http"]
    assert options.port == ports["webhook"]
    assert options.config_name == DEFAULT_CONFIG
    assert args.no_webhook is False
