"""``zenflow controller``: run the JobFlow controller (informers, leader election, reconcilers).

Before anything starts, ``zenflow.controller.preflight`` checks the ports (then, once the API
server answers, the CRDs, the Lease namespace and the webhook Secret namespace): a controller
that cannot work where it is pointed stops at once with one message naming the fix.

Exit codes: 0 after a graceful shutdown (SIGTERM/SIGINT); 1 when leadership was lost (the process
exits so it restarts as a clean standby, like client-go's OnStoppedLeading) or on a fatal error;
2 for invalid flags or environment values, or a failed preflight check (refused before anything
starts).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from prometheus_client import CollectorRegistry

from zenflow.controller.bootstrap import (
    build_manager,
    new_controller_api_client,
    wait_for_apiserver,
)
from zenflow.controller.preflight import (
    Port,
    PreflightError,
    check_cluster,
    check_ports,
    port_problem_of,
)
from zenflow.controller.settings import (
    ControllerSettings,
    add_settings_arguments,
    settings_from_args,
)
from zenflow.controller.setup import setup_controllers
from zenflow.errors import ConfigError, ZenflowError
from zenflow.kube.client import load_configuration
from zenflow.kube.rest import Rest
from zenflow.logging import configure_logging, get_logger
from zenflow.machinery.manager import LeadershipLostError
from zenflow.webhook.options import (
    WebhookOptions,
    add_webhook_arguments,
    build_server,
    options_from_args,
)
from zenflow.webhook.runnable import WebhookRunnable

log = get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_settings_arguments(parser)
    parser.add_argument(
        "--no-webhook",
        action="store_true",
        help="do not serve the admission webhook in this process (run `zenflow webhook` alone)",
    )
    add_webhook_arguments(parser)


def _ports(settings: ControllerSettings, webhook: WebhookOptions | None) -> list[Port]:
    ports = [Port(settings.http_host, settings.http_port, "metrics and probes", "--http-port")]
    if webhook is not None:
        ports.append(Port(webhook.bind_address, webhook.port, "the webhook", "--webhook-port"))
    return ports


async def _main(settings: ControllerSettings, webhook: WebhookOptions | None = None) -> int:
    if problems := check_ports(_ports(settings, webhook)):
        raise PreflightError(problems)
    cfg = await load_configuration(settings.kubeconfig, context=settings.context)
    registry = CollectorRegistry()
    api = new_controller_api_client(cfg, settings, registry=registry)
    manager = build_manager(settings, api, registry=registry)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        reachable = await wait_for_apiserver(api, stop=stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    if not reachable:
        await api.close()
        return 0
    managed_secret = (
        (webhook.namespace, webhook.secret_name)
        if webhook is not None and webhook.cert_dir is None
        else None
    )
    problems = await check_cluster(Rest(api), settings, webhook_secret=managed_secret)
    if problems:
        await api.close()
        raise PreflightError(problems)
    setup_controllers(manager, settings, api)
    if webhook is not None:
        # Every replica serves admission reviews, leader or not.
        server = build_server(webhook, api=api, registry=registry)
        manager.add_runnable(WebhookRunnable(server), needs_leader=False)
    log.info(
        "controller_starting",
        namespace=settings.namespace or "",
        leader_election=settings.leader_election,
        identity=manager.elector.identity if manager.elector else "",
        workers=settings.workers,
    )
    try:
        await manager.run()
    except OSError as exc:  # a port taken between the check and the listen
        raise PreflightError([port_problem_of(exc, _ports(settings, webhook))]) from exc
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_args(args)
        webhook = None if args.no_webhook else options_from_args(args)
    except ConfigError as exc:
        print(f"zenflow controller: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        return asyncio.run(_main(settings, webhook))
    except LeadershipLostError as exc:
        log.error("controller_exiting", reason=str(exc))
        return 1
    except ConfigError as exc:
        print(f"zenflow controller: {exc}", file=sys.stderr)
        return 2
    except ZenflowError as exc:
        log.error("controller_failed", error=str(exc))
        print(f"zenflow controller: {exc}", file=sys.stderr)
        return 1
