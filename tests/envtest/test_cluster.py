"""Smoke tests of the session's control plane through the pytest fixtures (zenflow.envtest).

Aspects: the fixtures give a Ready node and a fresh namespace with its default service account;
RBAC refuses an authenticated user without bindings (403) and authentication refuses a bogus
token (401); a service-account token from the TokenRequest API authenticates as that account;
deleting a Job garbage-collects its pods, finished or still running.
"""

from __future__ import annotations

import asyncio
import copy

import pytest
from kubernetes_asyncio import client

from tests.support.wait import eventually
from zenflow.envtest import NODE_NAME, ControlPlane
from zenflow.kube.client import new_api_client


def _with_token(cfg: client.Configuration, token: str) -> client.Configuration:
    other = copy.copy(cfg)
    other.api_key = {"BearerToken": f"Bearer {token}"}
    return other


async def test_fixtures_give_a_ready_node_and_a_usable_namespace(
    api_client: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api_client)
    node = await core.read_node(NODE_NAME)
    ready = [c for c in node.status.conditions if c.type == "Ready"]
    assert [c.status for c in ready] == ["True"]
    account = await core.read_namespaced_service_account("default", namespace)
    assert account.metadata.namespace == namespace


@pytest.mark.parametrize(
    ("user", "status"),
    [pytest.param("alice", 403, id="no-bindings"), pytest.param(None, 401, id="bogus-token")],
)
async def test_unauthorized_tokens_are_refused(
    control_plane: ControlPlane,
    kube_config: client.Configuration,
    namespace: str,
    user: str | None,
    status: int,
) -> None:
    token = control_plane.tokens[user] if user else "not-a-token"
    api = new_api_client(_with_token(kube_config, token))
    try:
        with pytest.raises(client.ApiException) as info:
            await client.CoreV1Api(api).list_namespaced_secret(namespace)
    finally:
        await api.close()
    assert info.value.status == status


async def test_service_account_token_authenticates_as_the_account(
    control_plane: ControlPlane, kube_config: client.Configuration, namespace: str
) -> None:
    token = await asyncio.to_thread(
        control_plane.create_token, namespace=namespace, service_account="default"
    )
    api = new_api_client(_with_token(kube_config, token))
    try:
        with pytest.raises(client.ApiException) as info:
            await client.CoreV1Api(api).list_namespaced_pod(namespace)
    finally:
        await api.close()
    assert info.value.status == 403
    assert f"system:serviceaccount:{namespace}:default" in str(info.value.body)


def _job(name: str, command: list[str]) -> client.V1Job:
    return client.V1Job(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1JobSpec(
            backoff_limit=0,
            template=client.V1PodTemplateSpec(
                spec=client.V1PodSpec(
                    restart_policy="Never",
                    termination_grace_period_seconds=5,
                    containers=[client.V1Container(name="main", image="any", command=command)],
                )
            ),
        ),
    )


@pytest.mark.parametrize(
    ("command", "pod_phase"),
    [
        pytest.param(["true"], "Succeeded", id="finished"),
        pytest.param(["sleep", "300"], "Running", id="running"),
    ],
)
async def test_deleting_a_job_garbage_collects_its_pods(
    api_client: client.ApiClient, namespace: str, command: list[str], pod_phase: str
) -> None:
    batch, core = client.BatchV1Api(api_client), client.CoreV1Api(api_client)
    await batch.create_namespaced_job(namespace, _job("gc", command))

    async def pods() -> list[client.V1Pod]:
        listed = await core.list_namespaced_pod(namespace, label_selector="job-name=gc")
        return list(listed.items)

    async def pod_in_phase() -> bool:
        return [pod.status.phase for pod in await pods()] == [pod_phase]

    await eventually(pod_in_phase, what=f"the Job's pod {pod_phase}", within=60)
    await batch.delete_namespaced_job("gc", namespace, propagation_policy="Background")

    async def no_pods() -> bool:
        return not await pods()

    await eventually(no_pods, what="the Job's pods garbage-collected", within=60)
