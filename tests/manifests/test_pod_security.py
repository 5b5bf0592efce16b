"""The Deployment's pod template meets the restricted Pod Security Standard, on the real apiserver.

Aspects: applying the Deployment (server-side dry-run) into a namespace labelled
``pod-security.kubernetes.io/warn: restricted`` produces no warning; a Pod built from its template
is admitted (server-side dry-run) where ``enforce: restricted`` is set; and, as a control that the
enforcement is live, the same Pod with privilege escalation allowed is refused there.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.manifests.helpers import MANIFESTS_DIR, find, load_documents
from zenflow.envtest.controlplane import ControlPlane, KubectlError


def deployment() -> dict[str, Any]:
    return find(
        load_documents([MANIFESTS_DIR / "deployment.yaml"]), "Deployment", "zenflow-controller"
    )


def label_namespace(control_plane: ControlPlane, namespace: str, mode: str) -> None:
    control_plane.kubectl(
        "label",
        "namespace",
        namespace,
        "--overwrite",
        f"pod-security.kubernetes.io/{mode}=restricted",
        f"pod-security.kubernetes.io/{mode}-version=latest",
    )


def pod_from_template(namespace: str) -> dict[str, Any]:
    template = deployment()["spec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "zenflow-controller-pss",
            "namespace": namespace,
            "labels": template["metadata"]["labels"],
        },
        "spec": {**copy.deepcopy(template["spec"]), "serviceAccountName": "default"},
    }


def test_deployment_gives_no_warning_under_warn_restricted(
    control_plane: ControlPlane, namespace: str
) -> None:
    label_namespace(control_plane, namespace, "warn")
    doc = deployment()
    doc["metadata"]["namespace"] = namespace
    out = control_plane.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(doc))
    assert "deployment.apps/zenflow-controller created (server dry run)" in out.stdout
    assert "Warning" not in out.stderr, out.stderr


def test_pod_admitted_under_enforce_restricted(control_plane: ControlPlane, namespace: str) -> None:
    label_namespace(control_plane, namespace, "enforce")
    out = control_plane.kubectl(
        "create", "--dry-run=server", "-f", "-", input=json.dumps(pod_from_template(namespace))
    )
    assert "pod/zenflow-controller-pss created (server dry run)" in out.stdout
    assert "Warning" not in out.stderr, out.stderr

    weakened = pod_from_template(namespace)
    weakened["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    with pytest.raises(KubectlError) as refused:
        control_plane.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(weakened))
    assert "violates PodSecurity" in refused.value.stderr
