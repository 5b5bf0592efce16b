"""The admission webhook in the demo: ``zenflow webhook`` on 127.0.0.1, registered with the local
API server through a URL-based ValidatingWebhookConfiguration (``zenflow.webhook.local``).

The webhook manages its own CA and serving certificate (a Secret in ``default``) and patches the
configuration's caBundle; the API server picks the configuration up asynchronously, so
``wait_enforced`` sends a flow that only the webhook refuses (a dependency cycle, which the CRD
schema cannot check) as a server-side dry run until the webhook refuses it.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

from zenflow.envtest import ControlPlane
from zenflow.envtest.process import ManagedProcess, tail
from zenflow.errors import ZenflowError
from zenflow.webhook.local import local_webhook_args, local_webhook_configuration

CONFIG_NAME = "zenflow-demo"
SECRET_NAMESPACE = "default"
# A dependency cycle: the CRD schema's CEL rules cannot see it, the webhook's validator does.
_PROBE = {
    "apiVersion": "workflow.zen.io/v1alpha1",
    "kind": "JobFlow",
    "metadata": {"name": "webhook-probe", "namespace": "default"},
    "spec": {
        "steps": [
            {"name": n, "dependencies": [d], "run": {"image": "busybox", "command": ["true"]}}
            for n, d in (("a", "b"), ("b", "a"))
        ]
    },
}


class WebhookError(ZenflowError):
    """The webhook did not start serving; the message carries the end of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def webhook_argv(kubeconfig: Path, port: int) -> list[str]:
    return [
        sys.executable, "-m", "zenflow", "webhook",
        "--kubeconfig", str(kubeconfig),
        "--log-format", "json",
        *local_webhook_args(
            port=port, config_name=CONFIG_NAME, secret_namespace=SECRET_NAMESPACE
        ),
    ]  # fmt: skip


def start_webhook(plane: ControlPlane) -> ManagedProcess:
    """Register the configuration and start the webhook process (not yet known to serve)."""
    port = free_port()
    config = local_webhook_configuration(name=CONFIG_NAME, port=port, failure_policy="Fail")
    plane.kubectl("apply", "-f", "-", input=json.dumps(config))
    proc = ManagedProcess(
        name="webhook",
        argv=webhook_argv(plane.kubeconfig_path, port),
        log_path=plane.log_path("webhook"),
    )
    proc.start()
    return proc


def wait_enforced(plane: ControlPlane, proc: ManagedProcess, *, timeout: float = 60.0) -> None:
    """Return once the API server calls the webhook and the webhook refuses a broken flow."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        code = proc.exit_code()
        if code is not None:
            log = tail(proc.log_path)
            raise WebhookError(
                f"the webhook exited with code {code}; last lines of its log:\n{log}"
            )
        out = plane.kubectl(
            "create", "--dry-run=server", "-f", "-", input=json.dumps(_PROBE), check=False
        )
        last = out.stderr.strip()
        if out.returncode != 0 and "dependency cycle" in last:  # only the webhook says so
            return
        if time.monotonic() > deadline:
            raise WebhookError(
                f"the API server did not enforce the webhook within {timeout:.0f}s "
                f"(last answer: {last or 'accepted'}); last lines of its log:\n"
                f"{tail(proc.log_path)}"
            )
        time.sleep(0.3)
