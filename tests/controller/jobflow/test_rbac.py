"""The JobFlow controller runs with exactly the permissions in ``manifests/``.

The in-process controller authenticates as the ``zenflow-controller`` ServiceAccount (its own
bound token; RBAC from ``manifests/`` applied to the real apiserver), and one flow exercises
every kind of API call the reconciler makes: list/watch of flows and Jobs, resource template
creation, Job creation, reading a pod's termination message (outputs), the status patch, Events,
the annotation patch of a retry, and the TTL delete. Aspects: the flow runs to completion with
outputs and Events, a retry works, and the TTL deletes the flow — no request is refused.
"""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from tests.manifests.helpers import service_account_kubeconfig
from tests.support.jobflows import (
    Running,
    jobflow,
    running_controller,
    step,
    step_status,
)
from tests.support.wait import eventually
from zenflow.api.constants import ANNOTATION_CANCEL, ANNOTATION_RETRY
from zenflow.envtest.controlplane import ControlPlane
from zenflow.kube.client import load_configuration, new_api_client

pytestmark = pytest.mark.integration


async def test_a_flow_runs_under_the_controllers_rbac(
    control_plane: ControlPlane, kube_config: client.Configuration, namespace: str
) -> None:
    sa_config = await load_configuration(str(service_account_kubeconfig(control_plane)))
    admin = new_api_client(kube_config)
    try:
        user = Running(manager=None, jobflow=None, api=admin, namespace=namespace)  # type: ignore[arg-type]
        async with running_controller(sa_config, namespace) as zf:
            await user.create(
                jobflow(
                    "rbac",
                    [
                        step("make", message='{"n": "1"}', outputs=[{"name": "n"}]),
                        step("fail", "make", exit_code=1),
                    ],
                    resourceTemplates={"configMapTemplates": [{"metadata": {"name": "rbac-cm"}}]},
                    annotations={ANNOTATION_CANCEL: "false"},
                )
            )
            failed = await user.wait_phase("rbac")
            assert failed["status"]["phase"] == "Failed"
            assert step_status(failed, "make")["outputs"] == {"n": "1"}
            # A retry after a cancel: the controller patches the flow's annotations.
            await user.patch(
                "rbac",
                {"metadata": {"annotations": {ANNOTATION_RETRY: "r1", ANNOTATION_CANCEL: "true"}}},
            )
            again = await user.wait_for(
                "rbac",
                lambda o: (
                    o["status"].get("retryNonce") == "r1"
                    and o["status"]["phase"] in ("Succeeded", "Failed")
                ),
                what="retry done",
            )
            assert ANNOTATION_CANCEL not in again["metadata"].get("annotations", {})
            assert step_status(again, "fail")["attempt"] == 2
            await user.patch("rbac", {"spec": {"executionPolicy": {"ttlSecondsAfterFinished": 1}}})
            # A finished flow is not re-planned, but its TTL is read from the raw object.
            await user.wait_for("rbac", lambda o: not o, within=30, what="TTL deletion")

            async def recorded() -> bool:
                await zf.jobflow.recorder.flush()
                return len(await user.events("rbac")) > 0

            await eventually(recorded, what="Events written")
            assert zf.jobflow.recorder.written > 0
    finally:
        await admin.close()
