"""The webhook registered with the real local apiserver over real TLS (integration).

Each test gets a namespace, a ValidatingWebhookConfiguration scoped to it (namespaceSelector) whose
clientConfig.url is this process's webhook on 127.0.0.1, and a certificate created by
``SecretCertSource`` in a Secret of that namespace, the caBundle patched in by the same code that
runs in the cluster. kubectl is run in a thread: the server shares the test's event loop.

Aspects: Secret creation and caBundle patching (a second "replica" reuses the Secret; a tampered
caBundle is repaired); every broken flow of the validator's test folder and an inline broken flow
is refused with its field-named messages; examples are admitted; warnings reach kubectl; update
rules on a started flow (frozen steps refused, suspend allowed, approval audited as a warning);
with the webhook stopped and failurePolicy Fail creation is refused quickly with a clear message,
and works again once the server is back, nothing else touched.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio import client
from prometheus_client import CollectorRegistry

from tests.manifests.helpers import ROOT
from tests.support.wait import eventually
from zenflow.api.constants import ANNOTATION_APPROVE
from zenflow.certs import CertBundle, renew, service_hosts
from zenflow.core.validation.validator import validate_object
from zenflow.envtest.controlplane import ControlPlane, KubectlError
from zenflow.webhook.certstore import SecretCertSource
from zenflow.webhook.local import local_webhook_configuration
from zenflow.webhook.server import WebhookServer

SECRET = "zenflow-webhook-tls"
TIMEOUT_SECONDS = 3
INVALID_DIR = ROOT / "tests" / "data" / "invalid"
EXAMPLES_DIR = ROOT / "examples"


def step(name: str, *deps: str, cmd: str = "true") -> dict[str, Any]:
    return {"name": name, "dependencies": list(deps), "run": {"image": "busybox", "command": [cmd]}}


def jobflow(name: str, *steps: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "metadata": {"name": name},
        "spec": {"steps": list(steps)},
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Webhook:
    control_plane: ControlPlane
    namespace: str
    config_name: str
    port: int
    source: SecretCertSource
    server: WebhookServer
    registry: CollectorRegistry

    def denied(self) -> float:
        """How many requests this webhook has denied so far."""
        return sum(
            sample.value
            for metric in self.registry.collect()
            if metric.name == "zenflow_webhook_requests"
            for sample in metric.samples
            if sample.name.endswith("_total") and sample.labels.get("result") == "denied"
        )

    async def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> Any:
        return await asyncio.to_thread(
            self.control_plane.kubectl, *args, "-n", self.namespace, input=input, check=check
        )

    async def restart(self) -> None:
        self.registry = CollectorRegistry()
        self.server = WebhookServer(
            source=self.source, host="127.0.0.1", port=self.port, registry=self.registry
        )
        await self.server.start()


def webhook_configuration(name: str, namespace: str, port: int) -> dict[str, Any]:
    return local_webhook_configuration(
        name=name, port=port, namespace=namespace, timeout_seconds=TIMEOUT_SECONDS
    )


async def wait_until_enforced(hook: Webhook) -> None:
    """The apiserver picks up a new configuration asynchronously: wait until it calls us."""
    # A dependency cycle: the CRD schema cannot see it, only the validator can.
    probe = json.dumps(jobflow("probe", step("a", "b"), step("b", "a")))

    async def called() -> str | None:
        before = hook.denied()
        out = await hook.kubectl("create", "--dry-run=server", "-f", "-", input=probe, check=False)
        assert hook.denied() > before, out.stderr
        return str(out.stderr)

    refused = await eventually(called, what="the apiserver calling the webhook", within=20)
    assert "dependency cycle: a -> b -> a" in refused, refused


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
    server = WebhookServer(source=source, host="127.0.0.1", port=port, registry=registry)
    hook = Webhook(control_plane, namespace, config_name, port, source, server, registry)
    try:
        await server.start()
        await wait_until_enforced(hook)
        yield hook
    finally:
        await hook.server.stop()
        await admission.delete_validating_webhook_configuration(config_name)


async def test_secret_created_and_ca_bundle_kept(
    webhook: Webhook, api_client: client.ApiClient, tmp_path: Path
) -> None:
    core = client.CoreV1Api(api_client)
    admission = client.AdmissionregistrationV1Api(api_client)
    secret = await core.read_namespaced_secret(SECRET, webhook.namespace)
    assert secret.type == "kubernetes.io/tls"
    assert set(secret.data) == {"ca.crt", "ca.key", "tls.crt", "tls.key"}
    bundle = CertBundle.from_secret_data(secret.data)
    assert bundle is not None
    config = await admission.read_validating_webhook_configuration(webhook.config_name)
    assert config.webhooks[0].client_config.ca_bundle == secret.data["ca.crt"]

    # A second replica reuses the Secret rather than issuing its own certificate.
    other = SecretCertSource(
        api=api_client,
        namespace=webhook.namespace,
        secret_name=SECRET,
        hosts=service_hosts("zenflow-webhook", webhook.namespace, ["127.0.0.1"]),
        work_dir=tmp_path / "replica-2",
        webhook_config_name=webhook.config_name,
    )
    files = await other.refresh()
    assert files.cert_path.read_bytes() == bundle.cert_pem
    assert await other.sync_ca_bundle(bundle) == 0

    # Someone overwrites the caBundle: the next sync puts ours back.
    foreign = renew(None, hosts=["elsewhere"], now=dt.datetime.now(dt.UTC))
    await admission.patch_validating_webhook_configuration(
        webhook.config_name,
        [
            {
                "op": "replace",
                "path": "/webhooks/0/clientConfig/caBundle",
                "value": base64.b64encode(foreign.ca_cert_pem).decode(),
            }
        ],
    )
    assert await other.sync_ca_bundle(bundle) == 1
    config = await admission.read_validating_webhook_configuration(webhook.config_name)
    assert config.webhooks[0].client_config.ca_bundle == secret.data["ca.crt"]


def invalid_documents() -> list[Any]:
    cases = [
        pytest.param(
            "inline-cycle",
            jobflow("bad", step("a", "c"), step("b", "a"), step("c", "b", cmd="{{ params.nope }}")),
            id="inline-cycle",
        )
    ]
    for path in sorted(INVALID_DIR.glob("*.y*ml")):
        for i, doc in enumerate(d for d in yaml.safe_load_all(path.read_text()) if d):
            cases.append(pytest.param(path.name, doc, id=f"{path.stem}-{i}"))
    return cases


@pytest.mark.parametrize(("source", "doc"), invalid_documents())
async def test_broken_flow_is_refused_with_its_messages(
    webhook: Webhook, source: str, doc: Any
) -> None:
    expected = [str(p) for p in validate_object(doc).errors] if isinstance(doc, dict) else []
    before = webhook.denied()
    out = await webhook.kubectl("apply", "-f", "-", input=json.dumps(doc), check=False)
    assert out.returncode != 0, f"{source} was admitted: {out.stdout}"
    if source.startswith("inline"):
        assert webhook.denied() > before, "the inline case passes the schema: ours to refuse"
    if webhook.denied() > before:
        assert f'The {doc["kind"]} "{doc["metadata"]["name"]}" is invalid' in out.stderr
        for message in expected:
            assert message in out.stderr, f"{source}: {message!r} missing in {out.stderr}"
    else:
        # Refused before admission by the CRD schema: still refused, with a field-named reason.
        assert "is invalid" in out.stderr or "error" in out.stderr.lower(), out.stderr


def example_documents() -> list[Any]:
    cases = []
    for path in sorted(EXAMPLES_DIR.glob("*.y*ml")):
        for i, doc in enumerate(d for d in yaml.safe_load_all(path.read_text()) if d):
            if isinstance(doc, dict) and doc.get("kind") in {"JobFlow", "CronJobFlow"}:
                cases.append(pytest.param(doc, id=f"{path.stem}-{i}"))
    return cases


@pytest.mark.parametrize("doc", example_documents())
async def test_example_is_admitted(webhook: Webhook, doc: dict[str, Any]) -> None:
    doc = {**doc, "metadata": {k: v for k, v in doc["metadata"].items() if k != "namespace"}}
    out = await webhook.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(doc))
    assert "created (server dry run)" in out.stdout


async def test_update_rules_on_a_started_flow(webhook: Webhook) -> None:
    await webhook.kubectl(
        "create", "-f", "-", input=json.dumps(jobflow("started", step("a"), step("b", "a")))
    )
    await webhook.kubectl(
        "patch",
        "jobflow",
        "started",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"phase": "Running"}}),
    )

    steps_patch = {"spec": {"steps": [step("a"), step("b", "a"), step("c", "b")]}}
    with pytest.raises(KubectlError) as refused:
        await webhook.kubectl(
            "patch", "jobflow", "started", "--type=merge", "-p", json.dumps(steps_patch)
        )
    assert (
        "spec.steps: may not change once the flow has started (phase Running); "
        "create a new JobFlow or use retry"
    ) in refused.value.stderr

    await webhook.kubectl(
        "patch", "jobflow", "started", "--type=merge", "-p", json.dumps({"spec": {"suspend": True}})
    )
    out = await webhook.kubectl("annotate", "jobflow", "started", f"{ANNOTATION_APPROVE}=a")
    assert f"Warning: metadata.annotations[{ANNOTATION_APPROVE}]: approval 'a' by admin" in (
        out.stderr
    )


async def test_stopped_webhook_refuses_quickly_then_recovers(webhook: Webhook) -> None:
    flow = json.dumps(jobflow("while-down", step("a")))
    await webhook.server.stop()
    started = time.monotonic()
    out = await webhook.kubectl("create", "-f", "-", input=flow, check=False)
    elapsed = time.monotonic() - started
    assert out.returncode != 0
    assert 'failed calling webhook "validate.workflow.zen.io"' in out.stderr, out.stderr
    assert elapsed < TIMEOUT_SECONDS + 5, elapsed

    await webhook.restart()
    out = await webhook.kubectl("create", "-f", "-", input=flow)
    assert "jobflow.workflow.zen.io/while-down created" in out.stdout


async def test_hung_webhook_is_cut_off_at_timeout_seconds(webhook: Webhook) -> None:
    """A webhook that accepts connections and never answers costs timeoutSeconds, not a hang."""
    await webhook.server.stop()

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)
        writer.close()

    hung = await asyncio.start_server(swallow, "127.0.0.1", webhook.port)
    try:
        started = time.monotonic()
        out = await webhook.kubectl(
            "create", "-f", "-", input=json.dumps(jobflow("while-hung", step("a"))), check=False
        )
        elapsed = time.monotonic() - started
    finally:
        hung.close()
        await hung.wait_closed()
    assert out.returncode != 0
    assert 'failed calling webhook "validate.workflow.zen.io"' in out.stderr, out.stderr
    assert TIMEOUT_SECONDS - 0.5 <= elapsed < TIMEOUT_SECONDS + 5, elapsed
    await webhook.restart()


async def test_configuration_created_after_start_gets_its_ca_bundle(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """`kubectl apply -k` may start the pods before the configuration exists: patch it soon."""
    config_name = f"zenflow-late-{namespace}"
    source = SecretCertSource(
        api=api_client,
        namespace=namespace,
        secret_name=SECRET,
        hosts=service_hosts("zenflow-webhook", namespace, ["127.0.0.1"]),
        work_dir=tmp_path,
        webhook_config_name=config_name,
    )
    server = WebhookServer(source=source, host="127.0.0.1", port=0, registry=CollectorRegistry())
    admission = client.AdmissionregistrationV1Api(api_client)
    await server.start()
    try:
        assert server.ready
        assert not source.settled
        await asyncio.to_thread(
            control_plane.kubectl,
            "create",
            "-f",
            "-",
            input=json.dumps(webhook_configuration(config_name, namespace, server.port)),
        )

        async def patched() -> Any:
            config = await admission.read_validating_webhook_configuration(config_name)
            return config if config.webhooks[0].client_config.ca_bundle else None

        config = await eventually(patched, what="caBundle patched", within=15, interval=0.2)
        secret = await client.CoreV1Api(api_client).read_namespaced_secret(SECRET, namespace)
        assert config.webhooks[0].client_config.ca_bundle == secret.data["ca.crt"]
        assert source.settled
    finally:
        await server.stop()
        await admission.delete_validating_webhook_configuration(config_name)
