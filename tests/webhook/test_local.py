"""Local registration helpers (zenflow.webhook.local).

Aspects: the URL configuration matches manifests/'s service configuration except for the client
config (and the optional namespace selector); the flags it pairs with are accepted by `zenflow
controller` and yield a certificate for 127.0.0.1.
"""

from __future__ import annotations

from typing import Any

from tests.manifests.helpers import find, load_documents, manifest_files
from zenflow.cli.main import build_parser
from zenflow.webhook.local import local_webhook_args, local_webhook_configuration
from zenflow.webhook.options import options_from_args


def test_same_rules_as_the_manifests_but_a_url() -> None:
    shipped: dict[str, Any] = find(
        load_documents(manifest_files()), "ValidatingWebhookConfiguration", "zenflow-webhook"
    )["webhooks"][0]
    local = local_webhook_configuration(name="x", port=1234, namespace="ns")["webhooks"][0]
    assert local["clientConfig"] == {"url": "https://127.0.0.1:1234/validate"}
    assert local["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "ns"}}
    drop = {"clientConfig", "namespaceSelector"}
    assert {k: v for k, v in local.items() if k not in drop} == {
        k: v for k, v in shipped.items() if k not in drop
    }


def test_args_accepted_by_the_controller() -> None:
    argv = local_webhook_args(port=9555, config_name="local", secret_namespace="default")
    options = options_from_args(build_parser().parse_args(["controller", *argv]))
    assert (options.port, options.bind_address, options.config_name) == (9555, "127.0.0.1", "local")
    assert "127.0.0.1" in options.hosts
    assert options.namespace == "default"
