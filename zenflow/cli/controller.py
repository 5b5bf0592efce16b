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
import importlib
import signal
import sys
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from zenflow.cli import eventloop
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
from zenflow.kube.kubeconfig import load_kube_config
from zenflow.kube.rest import Rest
from zenflow.logging import configure_logging, get_logger
from zenflow.machinery.manager import LeadershipLostError
from zenflow.webhook.flags import add_webhook_arguments

if TYPE_CHECKING:
    from zenflow.webhook.options import WebhookOptions

log = get_logger(__name__)

# The in-process webhook is loaded only when it is on: its certificate store and authorization
# client use kubernetes-asyncio's generated API classes (about 34 MiB), which the controller
# itself does without. Imported by name, as ``zenflow.cli.main`` imports commands.
WEBHOOK_OPTIONS = "zenflow.webhook.options"
WEBHOOK_RUNNABLE = "zenflow.webhook.runnable"
KUBE_CLIENT = "zenflow.kube.client"


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
    cfg = load_kube_config(settings.kubeconfig, context=settings.context)
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
        runnable = importlib.import_module(WEBHOOK_RUNNABLE).WebhookRunnable
        server = await _webhook_server(settings, webhook, manager, registry)
        manager.add_runnable(runnable(server), needs_leader=False)
    log.info(
        "controller_starting",
        namespace=settings.namespace or "",
        leader_election=settings.leader_election,
        sharding=settings.sharding,
        identity=manager.elector.identity if manager.elector else "",
        workers=settings.workers,
    )
    try:
        await manager.run()
    except OSError as exc:  # a port taken between the check and the listen
        raise PreflightError([port_problem_of(exc, _ports(settings, webhook))]) from exc
    return 0


async def _webhook_server(
    settings: ControllerSettings,
    webhook: WebhookOptions,
    manager: Any,
    registry: CollectorRegistry,
) -> Any:
    """The in-process webhook's server, on a kubernetes-asyncio client of its own."""
    kube = importlib.import_module(KUBE_CLIENT)
    cfg = await kube.load_configuration(settings.kubeconfig, context=settings.context)
    api = kube.new_api_client(cfg)
    manager.add_cleanup(api.close)
    return importlib.import_module(WEBHOOK_OPTIONS).build_server(
        webhook, api=api, registry=registry
    )


def run(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_args(args)
        options = None if args.no_webhook else importlib.import_module(WEBHOOK_OPTIONS)
        webhook = None if options is None else options.options_from_args(args)
    except ConfigError as exc:
        print(f"zenflow controller: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        return eventloop.run(_main(settings, webhook))
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
