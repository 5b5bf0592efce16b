"""A flow never does more than its author may: the webhook's SubjectAccessReviews on the real
API server, as a real token user (integration).

The webhook runs in this process with a ``FlowAuthorizer`` (its SubjectAccessReviews made with
the admin client, as the controller's ServiceAccount would with manifests/rbac-webhook.yaml), and
is registered with the local API server for one test namespace by both a validating and a
mutating configuration. ``alice`` is a static-token user of the control plane with no
permissions but the Role each test binds her to, so every request below is authenticated and
authorized by the API server exactly as in a cluster.

Aspects: with only jobflows permission, her flow is refused with a message naming the missing
``create jobs.batch`` (a CronJobFlow too: its runs' Jobs are hers); once she may create Jobs it
is admitted; a flow naming a ServiceAccount needs ``impersonate`` on it; a notification's
Secret needs ``get`` on it (else the flow would send its value to a receiver); the creator is
recorded as the API server authenticated her, a forged one overwritten, and it cannot be changed
afterwards.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client
from prometheus_client import CollectorRegistry

from tests.support.wait import eventually
from tests.webhook.test_integration import (
    SECRET,
    TIMEOUT_SECONDS,
    free_port,
    jobflow,
    step,
)
from zenflow.certs import service_hosts
from zenflow.envtest.controlplane import ControlPlane
from zenflow.kube.rest import Rest
from zenflow.webhook.authorize import FlowAuthorizer
from zenflow.webhook.certstore import SecretCertSource
from zenflow.webhook.creator import ANNOTATION_CREATED_BY
from zenflow.webhook.local import local_mutating_configuration, local_webhook_configuration
from zenflow.webhook.server import WebhookServer


@dataclass
class Cluster:
    plane: ControlPlane
    namespace: str
    alice: str  # her token

    async def as_alice(self, *args: str, input: str | None = None) -> Any:
        return await asyncio.to_thread(
            self.plane.kubectl, *args, "-n", self.namespace, input=input, as_token=self.alice,
            check=False,
        )  # fmt: skip

    async def admin(self, *args: str, input: str | None = None) -> Any:
        return await asyncio.to_thread(self.plane.kubectl, *args, "-n", self.namespace, input=input)

    async def grant(self, name: str, *rules: dict[str, Any]) -> None:
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": name}, "rules": list(rules)}  # fmt: skip
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}
            ],
        }
        items = {"kind": "List", "apiVersion": "v1", "items": [role, binding]}
        await self.admin("apply", "-f", "-", input=json.dumps(items))

    async def create_until(self, doc: dict[str, Any], needle: str) -> Any:
        """Create ``doc`` as alice until the answer contains ``needle`` (a new RoleBinding
        reaches the API server's authorizer after a moment)."""

        async def answered() -> Any:
            out = await self.as_alice("create", "-f", "-", input=json.dumps(doc))
            assert needle in out.stdout + out.stderr, out.stdout + out.stderr
            return out

        return await eventually(answered, what=repr(needle), within=30, interval=0.3)


FLOWS_ONLY = {"apiGroups": ["workflow.zen.io"], "resources": ["jobflows", "cronjobflows"],
              "verbs": ["get", "list", "create", "update", "patch"]}  # fmt: skip
JOBS = {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create"]}


@pytest.fixture
async def cluster(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str, tmp_path: Path
) -> AsyncIterator[Cluster]:
    port = free_port()
    name = f"zenflow-authz-{namespace}"
    configs = [
        local_webhook_configuration(
            name=name, port=port, namespace=namespace, timeout_seconds=TIMEOUT_SECONDS
        ),
        local_mutating_configuration(
            name=name, port=port, namespace=namespace, timeout_seconds=TIMEOUT_SECONDS
        ),
    ]
    for config in configs:
        await asyncio.to_thread(
            control_plane.kubectl, "create", "-f", "-", input=json.dumps(config)
        )
    source = SecretCertSource(
        api=api_client,
        namespace=namespace,
        secret_name=SECRET,
        hosts=service_hosts("zenflow-webhook", namespace, ["127.0.0.1"]),
        work_dir=tmp_path / "certs",
        webhook_config_name=name,
    )
    server = WebhookServer(
        source=source,
        authorizer=FlowAuthorizer(Rest(api_client), protected_namespaces=["zenflow-system"]),
        host="127.0.0.1",
        port=port,
        registry=CollectorRegistry(),
    )
    alice = control_plane.tokens["alice"]
    found = Cluster(control_plane, namespace, alice)
    try:
        await server.start()
        # Admin may do anything: a cycle is refused only once the webhook is called.
        cycle = json.dumps(jobflow("probe", step("a", "b"), step("b", "a")))

        async def refused() -> bool:
            out = await asyncio.to_thread(
                control_plane.kubectl, "create", "--dry-run=server", "-n", namespace, "-f", "-",
                input=cycle, check=False,
            )  # fmt: skip
            assert "dependency cycle" in out.stderr, out.stderr
            return True

        await eventually(refused, what="the webhook called", within=30, interval=0.2)
        yield found
    finally:
        await server.stop()
        for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
            await asyncio.to_thread(control_plane.kubectl, "delete", kind, name, check=False)


async def test_author_without_jobs_permission_is_refused_naming_it(cluster: Cluster) -> None:
    await cluster.grant("flows-only", FLOWS_ONLY)
    flow = jobflow("mine", step("a"))
    out = await cluster.create_until(flow, "forbidden")
    assert out.returncode != 0
    assert 'admission webhook "validate.workflow.zen.io" denied the request' in out.stderr
    assert (
        f"user 'alice' may not create jobs.batch in namespace '{cluster.namespace}' "
        "(the flow's steps run as Jobs)"
    ) in out.stderr

    cron = {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "CronJobFlow",
        "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 3 * * *", "jobFlowTemplate": {"spec": flow["spec"]}},
    }
    out = await cluster.as_alice("create", "-f", "-", input=json.dumps(cron))
    assert out.returncode != 0
    assert 'CronJobFlow "nightly" is forbidden' in out.stderr
    assert "may not create jobs.batch" in out.stderr
    assert "may not create jobflows" not in out.stderr  # her Role grants that

    await cluster.grant("jobs", JOBS)
    out = await cluster.create_until(flow, "created")
    assert "jobflow.workflow.zen.io/mine created" in out.stdout


async def test_named_service_account_needs_impersonate(cluster: Cluster) -> None:
    await cluster.grant("flows-and-jobs", FLOWS_ONLY, JOBS)
    pod = {"serviceAccountName": "deployer", "restartPolicy": "Never",
           "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}  # fmt: skip
    flow = jobflow("as-deployer")
    flow["spec"]["steps"] = [{"name": "a", "template": {"spec": {"template": {"spec": pod}}}}]
    out = await cluster.create_until(flow, "forbidden")
    assert (
        "user 'alice' may not impersonate serviceaccounts \"deployer\" or create "
        f"serviceaccounts/token \"deployer\" in namespace '{cluster.namespace}'"
    ) in out.stderr
    await cluster.grant(
        "use-deployer",
        {"apiGroups": [""], "resources": ["serviceaccounts"], "resourceNames": ["deployer"],
         "verbs": ["impersonate"]},
    )  # fmt: skip
    out = await cluster.create_until(flow, "created")
    assert out.returncode == 0, out.stderr


async def test_notification_secret_needs_get(cluster: Cluster) -> None:
    await cluster.grant("flows-and-jobs", FLOWS_ONLY, JOBS)
    flow = jobflow("notified", step("a"))
    ref = {"secretKeyRef": {"name": "hooks", "key": "url"}}
    flow["spec"]["notifications"] = [
        {"name": "ops", "events": ["Failed"], "webhook": {"urlFrom": ref}}
    ]
    out = await cluster.create_until(flow, "forbidden")
    assert (
        f"user 'alice' may not get secrets \"hooks\" in namespace '{cluster.namespace}'"
    ) in out.stderr
    await cluster.grant(
        "read-hooks",
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["hooks"],
         "verbs": ["get"]},
    )  # fmt: skip
    out = await cluster.create_until(flow, "created")
    assert out.returncode == 0, out.stderr


async def test_creator_is_recorded_as_authenticated_and_cannot_change(cluster: Cluster) -> None:
    await cluster.grant("flows-and-jobs", FLOWS_ONLY, JOBS)
    flow = jobflow("recorded", step("a"))
    flow["metadata"]["annotations"] = {ANNOTATION_CREATED_BY: "admin"}  # forged: overwritten
    await cluster.create_until(flow, "created")
    out = await cluster.admin(
        "get", "jobflow", "recorded", "-o", "jsonpath={.metadata.annotations}"
    )
    assert json.loads(out.stdout)[ANNOTATION_CREATED_BY] == "alice"
    out = await cluster.as_alice(
        "annotate", "--overwrite", "jobflow", "recorded", f"{ANNOTATION_CREATED_BY}=bob"
    )
    assert out.returncode == 0, out.stderr  # the mutating path put the stored value back
    out = await cluster.admin(
        "get", "jobflow", "recorded", "-o", "jsonpath={.metadata.annotations}"
    )
    assert json.loads(out.stdout)[ANNOTATION_CREATED_BY] == "alice"
