"""``service_account_kubeconfig`` gives a client exactly the manifests' identity (integration).

Aspects: the kubeconfig authenticates as system:serviceaccount:zenflow-system:zenflow-controller;
an async client built from it may list JobFlows in all namespaces (a granted verb) and is refused
reading Secrets elsewhere (403 Forbidden, wrapped as zenflow's KubeError).
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio import client

from tests.manifests.helpers import NAMESPACE, SERVICE_ACCOUNT, service_account_kubeconfig
from tests.support.wait import eventually
from zenflow.envtest.controlplane import ControlPlane
from zenflow.errors import KubeError
from zenflow.kube.client import load_configuration, new_api_client
from zenflow.kube.errors import wrapped


async def test_service_account_kubeconfig(control_plane: ControlPlane, namespace: str) -> None:
    path = service_account_kubeconfig(control_plane)
    out = control_plane.kubectl(
        "--kubeconfig", str(path), "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"
    )
    assert out.stdout == f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"

    api = new_api_client(await load_configuration(str(path)))
    try:
        objects = client.CustomObjectsApi(api)

        async def listed() -> dict[str, Any]:
            try:
                async with wrapped("list jobflows"):
                    found: dict[str, Any] = await objects.list_cluster_custom_object(
                        "workflow.zen.io", "v1alpha1", "jobflows"
                    )
                    return found
            except KubeError as exc:
                # Right after the CRDs are installed their storage may still be initializing.
                if exc.status != 429:
                    raise
                raise AssertionError(f"still initializing: {exc}") from exc

        flows = await eventually(listed, what="JobFlows listed", within=10)
        assert isinstance(flows["items"], list)
        with pytest.raises(KubeError) as refused:
            async with wrapped("list secrets"):
                await client.CoreV1Api(api).list_namespaced_secret(namespace)
        assert refused.value.status == 403
    finally:
        await api.close()
