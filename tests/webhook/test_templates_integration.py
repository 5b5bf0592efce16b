"""The webhook with template checks, registered with the real local apiserver (integration).

Aspects: a flow using a template's step with fitting params is admitted; one giving a param the
template does not declare, one missing a required param, and one naming a template that does
not exist are refused with the referring field named; a problem inside what the template brings
(a workspace the flow does not declare) is refused naming the template; a flow whose own mounts
clash or name an unknown workspace is refused with those fields.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client
from prometheus_client import CollectorRegistry

from tests.webhook.test_integration import (
    SECRET,
    Webhook,
    free_port,
    wait_until_enforced,
    webhook_configuration,
)
from zenflow.api.constants import API_VERSION, GROUP, VERSION
from zenflow.certs import service_hosts
from zenflow.envtest.controlplane import ControlPlane
from zenflow.kube.rest import Rest
from zenflow.webhook.certstore import SecretCertSource
from zenflow.webhook.server import WebhookServer
from zenflow.webhook.templates import TemplateChecker

pytestmark = pytest.mark.integration

TEMPLATE: dict[str, Any] = {
    "apiVersion": API_VERSION,
    "kind": "JobFlowTemplate",
    "metadata": {"name": "scan"},
    "spec": {
        "params": [{"name": "image", "required": True}],
        "steps": [
            {
                "name": "scan",
                "inputs": [{"name": "IMAGE", "value": "{{ params.image }}"}],
                "run": {"image": "busybox", "command": ["true"]},
                "workspaces": [{"name": "src", "mountPath": "/src", "readOnly": True}],
            }
        ],
    },
}
CLAIM = {
    "name": "src",
    "volumeClaimTemplate": {
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}
    },
}


def flow(*steps: dict[str, Any], workspaces: list[dict[str, Any]] | None = None) -> str:
    spec: dict[str, Any] = {"steps": list(steps)}
    if workspaces is not None:
        spec["workspaces"] = workspaces
    return json.dumps(
        {"apiVersion": API_VERSION, "kind": "JobFlow", "metadata": {"name": "f"}, "spec": spec}
    )


def scan(**extra: Any) -> dict[str, Any]:
    return {"name": "scan-app", "templateRef": {"name": "scan"}, **extra}


@pytest.fixture
async def webhook(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str, tmp_path: Path
) -> AsyncIterator[Webhook]:
    port = free_port()
    config_name = f"zenflow-test-{namespace}"
    admission = client.AdmissionregistrationV1Api(api_client)
    await asyncio.to_thread(
        control_plane.kubectl,
        "create",
        "-f",
        "-",
        input=json.dumps(webhook_configuration(config_name, namespace, port)),
    )
    source = SecretCertSource(
        api=api_client,
        namespace=namespace,
        secret_name=SECRET,
        hosts=service_hosts("zenflow-webhook", namespace, ["127.0.0.1"]),
        work_dir=tmp_path / "certs",
        webhook_config_name=config_name,
    )
    registry = CollectorRegistry()
    server = WebhookServer(
        source=source,
        templates=TemplateChecker(Rest(api_client)),
        host="127.0.0.1",
        port=port,
        registry=registry,
    )
    hook = Webhook(control_plane, namespace, config_name, port, source, server, registry)
    try:
        await server.start()
        await wait_until_enforced(hook)
        await client.CustomObjectsApi(api_client).create_namespaced_custom_object(
            GROUP, VERSION, namespace, "jobflowtemplates", TEMPLATE
        )
        yield hook
    finally:
        await hook.server.stop()
        await admission.delete_validating_webhook_configuration(config_name)


async def refused(hook: Webhook, body: str) -> str:
    out = await hook.kubectl("create", "--dry-run=server", "-f", "-", input=body, check=False)
    assert out.returncode != 0, out.stdout
    return str(out.stderr)


async def test_flows_using_templates_are_judged_with_them(webhook: Webhook) -> None:
    ok = flow(scan(params=[{"name": "image", "value": "app:1"}]), workspaces=[CLAIM])
    out = await webhook.kubectl("create", "--dry-run=server", "-f", "-", input=ok)
    assert "created (server dry run)" in out.stdout
    namespace = webhook.namespace
    cases = [
        (
            flow(
                scan(params=[{"name": "image", "value": "a"}, {"name": "tag", "value": "1"}]),
                workspaces=[CLAIM],
            ),
            f'spec.steps[0].params[1].name: JobFlowTemplate "scan" in namespace "{namespace}" '
            'declares no param "tag" (declared: image)',
        ),
        (
            flow(scan(), workspaces=[CLAIM]),
            f'spec.steps[0].params: param "image" of JobFlowTemplate "scan" in namespace '
            f'"{namespace}" is required: give it',
        ),
        (
            flow(scan(templateRef={"name": "scna"}), workspaces=[CLAIM]),
            f'spec.steps[0].templateRef.name: JobFlowTemplate "scna" in namespace "{namespace}" '
            "not found",
        ),
        (
            flow(scan(params=[{"name": "image", "value": "a"}])),
            'spec.steps[0].workspaces[0].name: unknown workspace "src"; spec.workspaces has: none '
            f'(from JobFlowTemplate "scan" in namespace "{namespace}", step \'scan\')',
        ),
    ]
    for body, message in cases:
        stderr = await refused(webhook, body)
        assert message in stderr, stderr


async def test_bad_mounts_are_refused_with_their_fields(webhook: Webhook) -> None:
    step = {
        "name": "a",
        "run": {"image": "busybox", "command": ["true"]},
        "workspaces": [{"name": "src", "mountPath": "/w"}, {"name": "srcs", "mountPath": "/w"}],
    }
    stderr = await refused(webhook, flow(step, workspaces=[CLAIM]))
    assert 'spec.steps[0].workspaces[1].name: unknown workspace "srcs"' in stderr, stderr
    assert (
        'spec.steps[0].workspaces[1].mountPath: /w is also where workspace "src" is mounted'
        in stderr
    )
