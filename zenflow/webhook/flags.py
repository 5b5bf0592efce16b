"""The ``--webhook-*`` flags (and ``--no-authorize-flows``) that ``zenflow webhook`` and
``zenflow controller`` share, and their defaults — apart from ``zenflow.webhook.options`` so that
a controller run with ``--no-webhook`` parses them without loading the webhook (its certificate
and authorization clients, the review workers): the lean controller process imports only this.
``options.options_from_args`` checks them; ``options.build_server`` uses them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from zenflow.webhook.serving import ServingLimits

DEFAULT_PORT: Final = 9443
DEFAULT_NAMESPACE: Final = "zenflow-system"
DEFAULT_SECRET: Final = "zenflow-webhook-tls"
DEFAULT_SERVICE: Final = "zenflow-webhook"
DEFAULT_CONFIG: Final = "zenflow-webhook"


def add_webhook_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("admission webhook")
    group.add_argument(
        "--webhook-port",
        type=int,
        default=DEFAULT_PORT,
        metavar="PORT",
        help="HTTPS port of the webhook (default %(default)s)",
    )
    group.add_argument(
        "--webhook-bind-address",
        default="0.0.0.0",
        metavar="ADDR",
        help="address to listen on (default %(default)s)",
    )
    group.add_argument(
        "--webhook-cert-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="read tls.crt/tls.key from DIR (e.g. a cert-manager Secret) instead "
        "of managing the certificate Secret and the caBundle",
    )
    group.add_argument(
        "--webhook-secret-namespace",
        default=None,
        metavar="NS",
        help="namespace of the certificate Secret and the webhook Service "
        f"(default $POD_NAMESPACE, else {DEFAULT_NAMESPACE})",
    )
    group.add_argument(
        "--webhook-secret-name",
        default=DEFAULT_SECRET,
        metavar="NAME",
        help="Secret holding the CA and serving certificate (default %(default)s)",
    )
    group.add_argument(
        "--webhook-service-name",
        default=DEFAULT_SERVICE,
        metavar="NAME",
        help="Service whose DNS names the certificate covers (default %(default)s)",
    )
    group.add_argument(
        "--webhook-config-name",
        default=DEFAULT_CONFIG,
        metavar="NAME",
        help="ValidatingWebhookConfiguration whose caBundle is kept current; "
        "'' leaves it alone (default %(default)s)",
    )
    group.add_argument(
        "--webhook-extra-san",
        action="append",
        default=[],
        metavar="HOST",
        help="extra DNS name or IP for the certificate (repeatable)",
    )
    group.add_argument(
        "--webhook-renew-before-days",
        type=float,
        default=30.0,
        metavar="DAYS",
        help="renew the certificate this long before it expires (default 30)",
    )
    group.add_argument(
        "--no-authorize-flows",
        dest="authorize_flows",
        action="store_false",
        help="admit flows without checking (SubjectAccessReview) that their author may create "
        "the Jobs, PVCs, ConfigMaps and use the ServiceAccounts they name, and allow them in "
        "the controller's namespace (the behaviour before 0.2; see docs/SECURITY.md)",
    )
    group.add_argument(
        "--webhook-controller-namespace",
        default=None,
        metavar="NS",
        help="the controller's own namespace, where no JobFlow or CronJobFlow is admitted "
        f"(default $POD_NAMESPACE, else {DEFAULT_NAMESPACE})",
    )
    group.add_argument(
        "--webhook-review-budget",
        type=float,
        default=ServingLimits.review_budget,
        metavar="SEC",
        help="seconds a review may take, body and queue included, before it is refused; keep "
        "it below the configuration's timeoutSeconds (default %(default)s)",
    )
    group.add_argument(
        "--webhook-workers",
        type=int,
        default=2,
        metavar="N",
        help="review worker processes for ordinary reviews (one more, at low priority, takes "
        "large and slow ones) (default %(default)s)",
    )
    group.add_argument(
        "--webhook-isolation",
        choices=("process", "thread"),
        default="process",
        help="where reviews run: worker processes (default) or threads of this process",
    )
    group.add_argument(
        "--webhook-cert-sync-interval",
        type=float,
        default=60.0,
        metavar="SEC",
        help="how often the certificate and caBundle are re-checked (default 60)",
    )
