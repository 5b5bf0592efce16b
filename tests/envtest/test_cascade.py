"""Deletes cascade at once on a freshly started local control plane: kube-controller-manager's
garbage collector knows zenflow's CRDs from its start, whether they were given to
``ControlPlane(crds_dir=…)`` (applied before it starts) or applied later with ``install_crds``
(which restarts it).

Aspect: a JobFlow deleted seconds after start-up takes the Job it owns and that Job's running
pod with it. Without the fix the collector only follows owner references to a kind it found at
its next discovery, 30 s apart: the Job and pod then stay 10-40 s; the bound below is far
below that and far above the ~1 s it takes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.wait import eventually_sync
from zenflow.envtest import ControlPlane
from zenflow.envtest.nodeagent.spec import ANNOTATION_DURATION_SECONDS, ANNOTATION_EXIT_CODE

CRDS = Path(__file__).resolve().parents[2] / "crds"
CASCADE_BOUND_S = 10.0

FLOW = {
    "apiVersion": "workflow.zen.io/v1alpha1",
    "kind": "JobFlow",
    "metadata": {"name": "short-lived", "namespace": "default"},
    "spec": {"steps": [{"name": "a", "run": {"image": "busybox", "command": ["true"]}}]},
}


def _owned_job(uid: str) -> dict[str, object]:
    owner = {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "name": "short-lived",
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    annotations = {ANNOTATION_EXIT_CODE: "0", ANNOTATION_DURATION_SECONDS: "300"}
    container = {"name": "main", "image": "busybox", "command": ["true"]}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "short-lived-a-1", "namespace": "default", "ownerReferences": [owner]},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"annotations": annotations},
                "spec": {"restartPolicy": "Never", "containers": [container]},
            },
        },
    }


def _names(plane: ControlPlane, kind: str) -> list[str]:
    return plane.kubectl("get", kind, "-n", "default", "-o", "name").stdout.split()


@pytest.mark.integration
@pytest.mark.parametrize("crds", ["given at start", "installed later"])
def test_a_flow_deleted_right_after_start_up_takes_its_jobs_and_pods(crds: str) -> None:
    at_start = crds == "given at start"
    with ControlPlane(node_agent_mode="annotations", crds_dir=CRDS if at_start else None) as plane:
        if not at_start:
            plane.install_crds(CRDS)
        created = plane.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(FLOW))
        uid = json.loads(created.stdout)["metadata"]["uid"]
        plane.kubectl("create", "-f", "-", input=json.dumps(_owned_job(uid)))
        eventually_sync(lambda: _names(plane, "pods"), what="the Job's pod")
        plane.kubectl("delete", "jobflow", "short-lived", "-n", "default", "--wait=false")
        eventually_sync(
            lambda: not _names(plane, "jobs") and not _names(plane, "pods"),
            what="the flow's Job and pod deleted by the garbage collector",
            within=CASCADE_BOUND_S,
        )
