"""Workspace claims kept by ``reclaimPolicy: Retain`` (FlowClient.ensure_resource, unit).

Aspects: such a claim has no owner reference; when the create meets an existing claim, one
annotated as retained for this flow's uid is the flow's own (a controller restarted between
the create and the status write ensures it again without a conflict), one retained for another
flow is a conflict naming it.
"""

from __future__ import annotations

from tests.support.fake_transport import FakeTransport, reply, status_reply
from zenflow.controller.jobflow.client import FlowClient
from zenflow.core.planning.workspaces import ANNOTATION_RETAINED_FOR

CLAIMS = "/api/v1/namespaces/ns/persistentvolumeclaims"
MANIFEST = {
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {
        "name": "f-cache",
        "namespace": "ns",
        "annotations": {ANNOTATION_RETAINED_FOR: "uid-1"},
    },
    "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}}},
}


async def test_a_retained_claim_is_recognised_by_its_annotation() -> None:
    fake = FakeTransport()
    fake.answer("POST", CLAIMS, status_reply(409, "AlreadyExists", "exists"))
    fake.answer(
        "GET",
        f"{CLAIMS}/f-cache",
        reply({"metadata": {"name": "f-cache", "annotations": {ANNOTATION_RETAINED_FOR: "uid-1"}}}),
        reply({"metadata": {"name": "f-cache", "annotations": {ANNOTATION_RETAINED_FOR: "uid-0"}}}),
    )
    flows = FlowClient(fake)
    assert await flows.ensure_resource(MANIFEST, flow_uid="uid-1") is None
    conflict = await flows.ensure_resource(MANIFEST, flow_uid="uid-1")
    assert conflict == (
        "PersistentVolumeClaim f-cache already exists and is not owned by this JobFlow"
    )
