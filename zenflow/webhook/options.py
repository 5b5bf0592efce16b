"""The webhook's settings, shared by ``zenflow webhook`` and ``zenflow controller``.

``add_webhook_arguments`` (in ``flags``, which loads without the rest) adds the same
``--webhook-*`` flags (and ``--no-authorize-flows``) to either command's parser;
``options_from_args`` checks them; ``build_server`` turns them into a
``WebhookServer`` whose certificate comes from a directory (``--webhook-cert-dir``, e.g.
cert-manager) or from the shared Secret that zenflow maintains itself (the default), and which
checks flows against their authors' permissions unless told not to.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kubernetes_asyncio import client
from prometheus_client import REGISTRY, CollectorRegistry

from zenflow.certs import service_hosts
from zenflow.errors import ConfigError
from zenflow.kube.client import new_api_client
from zenflow.kube.rest import Rest
from zenflow.webhook.admission import Validator
from zenflow.webhook.authorize import FlowAuthorizer
from zenflow.webhook.certstore import CertSource, FileCertSource, SecretCertSource
from zenflow.webhook.flags import (
    DEFAULT_CONFIG,
    DEFAULT_NAMESPACE,
    DEFAULT_PORT,
    DEFAULT_SECRET,
    DEFAULT_SERVICE,
)
from zenflow.webhook.flags import add_webhook_arguments as add_webhook_arguments
from zenflow.webhook.pool import LaneSettings, PoolSettings
from zenflow.webhook.server import WebhookServer, default_validator
from zenflow.webhook.serving import ServingLimits
from zenflow.webhook.templatecache import TemplateCache
from zenflow.webhook.templates import TemplateChecker

MAX_REVIEW_BUDGET = 29.0  # the API server's timeoutSeconds is at most 30

Isolation = Literal["process", "thread"]


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
    authorize_flows: bool = True
    controller_namespace: str = DEFAULT_NAMESPACE
    review_budget: float = ServingLimits.review_budget
    workers: int = 2
    isolation: Isolation = "process"

    @property
    def hosts(self) -> list[str]:
        return service_hosts(self.service_name, self.namespace, self.extra_sans)


def options_from_args(args: argparse.Namespace) -> WebhookOptions:
    """Check the ``--webhook-*`` flags; ConfigError names the bad one."""
    if not 0 <= args.webhook_port <= 65535:
        raise ConfigError(f"--webhook-port {args.webhook_port}: must be 0..65535")
    if args.webhook_renew_before_days <= 0:
        raise ConfigError("--webhook-renew-before-days: must be > 0")
    if args.webhook_cert_sync_interval <= 0:
        raise ConfigError("--webhook-cert-sync-interval: must be > 0")
    if not 0 < args.webhook_review_budget <= MAX_REVIEW_BUDGET:
        raise ConfigError(
            f"--webhook-review-budget {args.webhook_review_budget}: must be in "
            f"(0, {MAX_REVIEW_BUDGET:g}] seconds"
        )
    if not 1 <= args.webhook_workers <= 64:
        raise ConfigError(f"--webhook-workers {args.webhook_workers}: must be 1..64")
    cert_dir: Path | None = args.webhook_cert_dir
    if cert_dir is not None:
        missing = [n for n in ("tls.crt", "tls.key") if not (cert_dir / n).is_file()]
        if missing:
            raise ConfigError(f"--webhook-cert-dir {cert_dir}: missing {', '.join(missing)}")
    pod_namespace = os.environ.get("POD_NAMESPACE") or DEFAULT_NAMESPACE
    namespace = args.webhook_secret_namespace or pod_namespace
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
        authorize_flows=args.authorize_flows,
        controller_namespace=args.webhook_controller_namespace or pod_namespace,
        review_budget=args.webhook_review_budget,
        workers=args.webhook_workers,
        isolation=args.webhook_isolation,
    )


def build_server(
    options: WebhookOptions,
    *,
    api: client.ApiClient | None,
    validate: Validator | None = None,
    registry: CollectorRegistry = REGISTRY,
    work_dir: Path | None = None,
) -> WebhookServer:
    """A server for ``options``. ``api`` is required unless the certificate comes from a dir
    and flows are not authorized (its configuration, not the client, is used for the
    SubjectAccessReviews: they get their own unthrottled client)."""
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
    authorizer: FlowAuthorizer | None = None
    if options.authorize_flows:
        if api is None:
            raise ConfigError(
                "authorizing flows needs API access (a kubeconfig or in-cluster credentials) for "
                "its SubjectAccessReviews; pass --no-authorize-flows to run without it"
            )
        sar_client = new_api_client(api.configuration, pool_size=16)
        authorizer = FlowAuthorizer(
            Rest(sar_client),
            owned_client=sar_client,
            protected_namespaces=[options.controller_namespace],
        )
    # Flows using templates are validated resolved, with the templates from informer caches
    # (on the webhook's own client; a template not cached yet is read).
    templates = TemplateChecker(Rest(api), cache=TemplateCache(api)) if api is not None else None
    if options.isolation == "thread" and validate is None:
        validate = default_validator()
    return WebhookServer(
        source=source,
        validate=validate,
        authorizer=authorizer,
        templates=templates,
        pool=PoolSettings(fast=LaneSettings(workers=options.workers, max_waiting=32, slice=0.05)),
        limits=ServingLimits(review_budget=options.review_budget),
        host=options.bind_address,
        port=options.port,
        cert_sync_interval=options.cert_sync_interval,
        registry=registry,
    )
