"""The webhook's settings, shared by ``zenflow webhook`` and ``zenflow controller``.

``add_webhook_arguments`` adds the same ``--webhook-*`` flags to either command's parser;
``options_from_args`` checks them; ``build_server`` turns them into a ``WebhookServer`` whose
certificate comes from a directory (``--webhook-cert-dir``, e.g. cert-manager) or from the shared
Secret that zenflow maintains itself (the default).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kubernetes_asyncio import client
from prometheus_client import REGISTRY, CollectorRegistry

from zenflow.certs import service_hosts
from zenflow.errors import ConfigError
from zenflow.webhook.admission import Validator
from zenflow.webhook.certstore import CertSource, FileCertSource, SecretCertSource
from zenflow.webhook.server import DEFAULT_PORT, WebhookServer

DEFAULT_NAMESPACE = "zenflow-system"
DEFAULT_SECRET = "zenflow-webhook-tls"
DEFAULT_SERVICE = "zenflow-webhook"
DEFAULT_CONFIG = "zenflow-webhook"


@dataclass(frozen=True)
class WebhookOptions:
    port: int = DEFAULT_PORT
    bind_address: str = "0.0.0.0"
    cert_dir: Path | None = None
    namespace: str = DEFAULT_NAMESPACE
    secret_name: str = DEFAULT_SECRET
    service_name: str = DEFAULT_SERVICE
    config_name: str = DEFAULT_CONFIG
    extra_sans: tuple[str, ...] = ()
    renew_before: dt.timedelta = dt.timedelta(days=30)
    cert_sync_interval: float = 60.0

    @property
    def hosts(self) -> list[str]:
        return service_hosts(self.service_name, self.namespace, self.extra_sans)


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
        "--webhook-cert-sync-interval",
        type=float,
        default=60.0,
        metavar="SEC",
        help="how often the certificate and caBundle are re-checked (default 60)",
    )


def options_from_args(args: argparse.Namespace) -> WebhookOptions:
    """Check the ``--webhook-*`` flags; ConfigError names the bad one."""
    if not 0 <= args.webhook_port <= 65535:
        raise ConfigError(f"--webhook-port {args.webhook_port}: must be 0..65535")
    if args.webhook_renew_before_days <= 0:
        raise ConfigError("--webhook-renew-before-days: must be > 0")
    if args.webhook_cert_sync_interval <= 0:
        raise ConfigError("--webhook-cert-sync-interval: must be > 0")
    cert_dir: Path | None = args.webhook_cert_dir
    if cert_dir is not None:
        missing = [n for n in ("tls.crt", "tls.key") if not (cert_dir / n).is_file()]
        if missing:
            raise ConfigError(f"--webhook-cert-dir {cert_dir}: missing {', '.join(missing)}")
    namespace = (
        args.webhook_secret_namespace or os.environ.get("POD_NAMESPACE") or DEFAULT_NAMESPACE
    )
    return WebhookOptions(
        port=args.webhook_port,
        bind_address=args.webhook_bind_address,
        cert_dir=cert_dir,
        namespace=namespace,
        secret_name=args.webhook_secret_name,
        service_name=args.webhook_service_name,
        config_name=args.webhook_config_name,
        extra_sans=tuple(args.webhook_extra_san),
        renew_before=dt.timedelta(days=args.webhook_renew_before_days),
        cert_sync_interval=args.webhook_cert_sync_interval,
    )


def build_server(
    options: WebhookOptions,
    *,
    api: client.ApiClient | None,
    validate: Validator | None = None,
    registry: CollectorRegistry = REGISTRY,
    work_dir: Path | None = None,
) -> WebhookServer:
    """A server for ``options``. ``api`` is required unless the certificate comes from a dir."""
    source: CertSource
    if options.cert_dir is not None:
        source = FileCertSource(options.cert_dir)
    else:
        if api is None:
            raise ConfigError("the webhook needs API access to manage its certificate Secret")
        source = SecretCertSource(
            api=api,
            namespace=options.namespace,
            secret_name=options.secret_name,
            hosts=options.hosts,
            work_dir=work_dir or Path(tempfile.mkdtemp(prefix="zenflow-webhook-")),
            webhook_config_name=options.config_name,
            renew_before=options.renew_before,
        )
    return WebhookServer(
        source=source,
        validate=validate,
        host=options.bind_address,
        port=options.port,
        cert_sync_interval=options.cert_sync_interval,
        registry=registry,
    )
