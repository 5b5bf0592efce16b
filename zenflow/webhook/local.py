"""Registering the webhook with an API server outside a cluster (local control plane, tests, demo).

There is no Service there: the ValidatingWebhookConfiguration points at
``https://127.0.0.1:PORT/validate`` and the serving certificate needs 127.0.0.1 as an IP SAN.
``local_webhook_configuration`` builds that object (no caBundle: the webhook's certificate source
patches it in), ``local_mutating_configuration`` the optional MutatingWebhookConfiguration of the
same name that records ``created-by`` (``/mutate``); ``local_webhook_args`` are the matching
``--webhook-*`` flags for ``zenflow controller`` or ``zenflow webhook``.
"""

from __future__ import annotations

from typing import Any

from zenflow.api.constants import CRONJOBFLOW_PLURAL, GROUP, JOBFLOW_PLURAL, VERSION
from zenflow.webhook.server import MUTATE_PATH, VALIDATE_PATH

WEBHOOK_NAME = "validate.workflow.zen.io"
MUTATING_WEBHOOK_NAME = "created-by.workflow.zen.io"
LOCAL_HOST = "127.0.0.1"


def local_webhook_configuration(
    *,
    name: str,
    port: int,
    namespace: str | None = None,
    timeout_seconds: int = 5,
    failure_policy: str = "Fail",
) -> dict[str, Any]:
    """The configuration of ``manifests/`` with a URL client config; ``namespace`` limits it to
    one namespace (so parallel users of one API server do not see each other's webhook)."""
    hook: dict[str, Any] = {
        "name": WEBHOOK_NAME,
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "failurePolicy": failure_policy,
        "matchPolicy": "Equivalent",
        "timeoutSeconds": timeout_seconds,
        "clientConfig": {"url": f"https://{LOCAL_HOST}:{port}{VALIDATE_PATH}"},
        "rules": [
            {
                "apiGroups": [GROUP],
                "apiVersions": [VERSION],
                "resources": [JOBFLOW_PLURAL, CRONJOBFLOW_PLURAL],
                "operations": ["CREATE", "UPDATE"],
                "scope": "Namespaced",
            }
        ],
    }
    if namespace is not None:
        hook["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "zenflow"}},
        "webhooks": [hook],
    }


def local_mutating_configuration(
    *,
    name: str,
    port: int,
    namespace: str | None = None,
    timeout_seconds: int = 5,
    failure_policy: str = "Fail",
) -> dict[str, Any]:
    """manifests/mutatingwebhookconfiguration.yaml with a URL client config (see above)."""
    config = local_webhook_configuration(
        name=name,
        port=port,
        namespace=namespace,
        timeout_seconds=timeout_seconds,
        failure_policy=failure_policy,
    )
    hook = config["webhooks"][0]
    hook["name"] = MUTATING_WEBHOOK_NAME
    hook["clientConfig"] = {"url": f"https://{LOCAL_HOST}:{port}{MUTATE_PATH}"}
    hook["reinvocationPolicy"] = "Never"
    return {**config, "kind": "MutatingWebhookConfiguration"}


def local_webhook_args(*, port: int, config_name: str, secret_namespace: str) -> list[str]:
    """Flags serving the webhook on 127.0.0.1:``port`` with a certificate valid for it."""
    return [
        "--webhook-bind-address", LOCAL_HOST,
        "--webhook-port", str(port),
        "--webhook-extra-san", LOCAL_HOST,
        "--webhook-secret-namespace", secret_namespace,
        "--webhook-config-name", config_name,
    ]  # fmt: skip
