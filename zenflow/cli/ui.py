"""``zenflow ui``: serve the web UI on 127.0.0.1, acting with the user's own kubeconfig.

The server prints its URL with a one-time login token (``ZENFLOW_UI_TOKEN`` sets the token,
e.g. for ``zenflow demo --ui``); ``--open`` opens it in the default browser. See docs/UI.md.

Exit status: 0 after Ctrl-C/SIGTERM, 1 when the server could not start (bind, kubeconfig),
2 for bad flags.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from zenflow.cli.jobflow_plugin import namespace_of
from zenflow.errors import ConfigError, ZenflowError
from zenflow.kube.client import load_configuration
from zenflow.logging import LEVELS, configure_logging
from zenflow.ui import UiOptions, new_login_token, serve

TOKEN_ENV = "ZENFLOW_UI_TOKEN"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG)")
    parser.add_argument("--context", help="kubeconfig context to use")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", help="namespace to show (default: the context's)")
    scope.add_argument(
        "-A", "--all-namespaces", action="store_true", help="show flows of every namespace"
    )
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--open", action="store_true", help="open the UI in the default browser")
    parser.add_argument(
        "--read-only", action="store_true", help="disable every action (approve, retry, run, …)"
    )
    parser.add_argument(
        "--no-token",
        action="store_true",
        help="serve without the login token (only behind kubectl port-forward, read-only)",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a Host header to accept besides 127.0.0.1/localhost (repeatable)",
    )
    parser.add_argument("--log-level", choices=LEVELS, default="info")
    parser.add_argument("--log-format", choices=("json", "console"), default="console")


def options_from_args(args: argparse.Namespace) -> UiOptions:
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port}: expected 0..65535")
    token = None if args.no_token else (os.environ.get(TOKEN_ENV) or new_login_token())
    return UiOptions(
        namespace=None if args.all_namespaces else namespace_of(args),
        host=args.host,
        port=args.port,
        read_only=args.read_only,
        login_token=token,
        allowed_hosts=tuple(args.allowed_host),
        context=args.context,
    )


async def _main(args: argparse.Namespace, options: UiOptions) -> int:
    cfg = await load_configuration(args.kubeconfig, context=args.context)
    return await serve(cfg, options, open_browser=args.open, announce=_announce)


def _announce(line: str) -> None:
    print(line, flush=True)


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, args.log_format)
    try:
        options = options_from_args(args)
    except ConfigError as exc:
        print(f"zenflow ui: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_main(args, options))
    except (ZenflowError, OSError) as exc:
        print(f"zenflow ui: {exc}", file=sys.stderr)
        return 1
