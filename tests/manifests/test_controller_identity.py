"""`zenflow controller` with its webhook, as the manifests' ServiceAccount, on the real cluster.

The controller process authenticates with the ServiceAccount's bound token (so it holds exactly
the RBAC of manifests/), serves its webhook on 127.0.0.1 registered through a
ValidatingWebhookConfiguration (URL client config, caBundle patched in by the controller itself
from the certificate Secret it creates in zenflow-system), and runs a flow to completion: the
real Job controller and the node agent run its pods.

Aspects: a broken flow is refused by the in-process webhook; a valid DAG (examples/diamond.yaml)
reaches Succeeded with one Job per step; the controller logs no Forbidden; it exits 0 on
SIGTERM.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.manifests.helpers import NAMESPACE, ROOT, service_account_kubeconfig
from tests.support.controller_process import ControllerProcess, ExitedError
from tests.support.wait import eventually_sync
from zenflow.envtest.controlplane import ControlPlane
from zenflow.webhook.flags import DEFAULT_CONFIG
from zenflow.webhook.local import local_webhook_args, local_webhook_configuration

FLOW = ROOT / "examples" / "diamond.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def controller(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> Iterator[ControllerProcess]:
    kubeconfig = service_account_kubeconfig(control_plane)
    port = free_port()
    # The name the manifests' RBAC lets the controller patch (scoped to this test's namespace).
    config_name = DEFAULT_CONFIG
    control_plane.kubectl(
        "create",
        "-f",
        "-",
        input=json.dumps(
            local_webhook_configuration(name=config_name, port=port, namespace=namespace)
        ),
    )
    args = [
        "--kubeconfig", str(kubeconfig),
        "--leader-election-namespace", NAMESPACE,
        "--http-host", "127.0.0.1", "--http-port", "0",
        "--log-format", "json",
        *local_webhook_args(port=port, config_name=config_name, secret_namespace=NAMESPACE),
    ]  # fmt: skip
    proc = ControllerProcess("zenflow-controller", args, log_path=tmp_path / "controller.log")
    try:
        yield proc.start()
    finally:
        proc.close()
        control_plane.kubectl("delete", "validatingwebhookconfiguration", config_name)


def broken_flow() -> str:
    step = {"run": {"image": "busybox:1.36", "command": ["true"]}}
    return json.dumps(
        {
            "apiVersion": "workflow.zen.io/v1alpha1",
            "kind": "JobFlow",
            "metadata": {"name": "broken"},
            "spec": {
                "steps": [
                    {"name": "a", "dependencies": ["b"], **step},
                    {"name": "b", "dependencies": ["a"], **step},
                ]
            },
        }
    )


def test_flow_completes_under_the_service_account(
    control_plane: ControlPlane, namespace: str, controller: ControllerProcess
) -> None:
    def refused() -> bool:
        """The webhook is up once a cycle is refused with the validator's message."""
        out = control_plane.kubectl(
            "create", "--dry-run=server", "-n", namespace, "-f", "-", input=broken_flow(),
            check=False,
        )  # fmt: skip
        if controller.proc.poll() is not None:
            raise ExitedError(controller.text())
        assert "dependency cycle: a -> b -> a" in out.stderr, out.stderr
        return True

    name = yaml.safe_load(FLOW.read_text())["metadata"]["name"]

    def succeeded() -> bool:
        phase = control_plane.kubectl(
            "get", "jobflow", name, "-n", namespace, "-o", "jsonpath={.status.phase}"
        ).stdout
        if phase == "Failed":
            pytest.fail(
                control_plane.kubectl("get", "jobflow", name, "-n", namespace, "-o", "yaml").stdout
            )
        assert phase == "Succeeded", f"phase {phase!r}"
        return True

    try:
        eventually_sync(refused, what="the webhook refusing a cycle", within=60, interval=0.3)
        control_plane.kubectl("create", "-n", namespace, "-f", str(FLOW))
        eventually_sync(succeeded, what=f"{name} Succeeded", within=120, interval=0.5)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{controller.text()}") from exc

    jobs = control_plane.kubectl(
        "get", "jobs", "-n", namespace, "-l", f"jobflow={name}", "-o", "name"
    ).stdout.split()
    steps = yaml.safe_load(FLOW.read_text())["spec"]["steps"]
    assert len(jobs) == len(steps)

    assert controller.terminate() == 0
    text = controller.text()
    assert "forbidden" not in text.lower(), text
    assert "webhook_ca_bundle_patched" in text
