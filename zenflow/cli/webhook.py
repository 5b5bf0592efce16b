"""``zenflow webhook``: run the validating admission webhook alone (without the controller).

Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT), 1 when the webhook could not start
(certificate, bind, API access), 2 for bad flags.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from zenflow.cli import eventloop
from zenflow.errors import ConfigError, ZenflowError
from zenflow.kube.client import load_configuration, new_api_client
from zenflow.logging import LEVELS, configure_logging, get_logger
from zenflow.webhook.options import (
    WebhookOptions,
    add_webhook_arguments,
    build_server,
    options_from_args,
)

log = get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig",
        default=None,
        help="kubeconfig file (default: $KUBECONFIG, in-cluster service account, ~/.kube/config)",
    )
    parser.add_argument("--context", default=None, help="kubeconfig context")
    parser.add_argument("--log-level", choices=LEVELS, default="info")
    parser.add_argument("--log-format", choices=("json", "console"), default="json")
    add_webhook_arguments(parser)


async def _serve(options: WebhookOptions, *, kubeconfig: str | None, context: str | None) -> int:
    api = None
    if options.cert_dir is None or options.authorize_flows:  # the Secret, or the access reviews
        try:
            config = await load_configuration(kubeconfig, context=context)
        except ConfigError as exc:
            if options.cert_dir is None:
                raise
            raise ConfigError(
                f"{exc} (the webhook asks the API server whether each flow's author may create "
                "its Jobs; --no-authorize-flows serves without that check)"
            ) from exc
        api = new_api_client(config)
    try:
        server = build_server(options, api=api)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await server.run(stop)
    finally:
        if api is not None:
            await api.close()
    return 0


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, args.log_format)
    try:
        options = options_from_args(args)
    except ConfigError as exc:
        print(f"zenflow webhook: {exc}", file=sys.stderr)
        return 2
    try:
        return eventloop.run(_serve(options, kubeconfig=args.kubeconfig, context=args.context))
    except ConfigError as exc:
        print(f"zenflow webhook: {exc}", file=sys.stderr)
        return 2
    except (ZenflowError, OSError) as exc:
        log.error("webhook_failed", error=str(exc))
        print(f"zenflow webhook: {exc}", file=sys.stderr)
        return 1
