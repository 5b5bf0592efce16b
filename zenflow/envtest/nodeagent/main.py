"""The node agent's process: its command line, TLS set-up and event loop.

    python -m zenflow.envtest.nodeagent.main --kubeconfig PATH --node-name zenflow-local \\
        --work-dir DIR --mode exec|annotations \\
        [--tls-cert-file F --tls-private-key-file F --client-ca-file F [--port N]]

Exit status: 0 after SIGTERM/SIGINT, 1 when the agent cannot run (the message says why).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import ssl
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from zenflow.envtest.nodeagent.agent import DEFAULT_NODE_NAME, NodeAgent
from zenflow.envtest.nodeagent.kube import AgentApi
from zenflow.envtest.nodeagent.logs import DEFAULT_MAX_BYTES, LogStore
from zenflow.envtest.nodeagent.logserver import DEFAULT_CLIENT_NAME, LogServer, server_ssl_context
from zenflow.envtest.nodeagent.pod import Mode, WorkerSettings
from zenflow.envtest.nodeagent.process import kill_orphans
from zenflow.envtest.nodeagent.spec import ANNOTATION_DURATION_SECONDS, ANNOTATION_EXIT_CODE
from zenflow.errors import ConfigError, ZenflowError
from zenflow.kube.client import load_configuration, new_api_client
from zenflow.logging import LEVELS, configure_logging, get_logger

log = get_logger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m zenflow.envtest.nodeagent.main",
        description="Local kubelet stand-in: registers a Ready node, binds and runs pods.",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig of the cluster (default: $KUBECONFIG)")
    parser.add_argument("--node-name", default=DEFAULT_NODE_NAME, help="name of the Node")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "zenflow-nodeagent",
        help="per-pod working directories, logs and termination-message files go here",
    )
    parser.add_argument(
        "--mode",
        choices=("exec", "annotations"),
        default="exec",
        help="exec: run command/args as local processes; annotations: only follow the "
        f"{ANNOTATION_EXIT_CODE} / {ANNOTATION_DURATION_SECONDS} annotations",
    )
    parser.add_argument(
        "--container-log-max-size",
        type=int,
        default=DEFAULT_MAX_BYTES,
        metavar="BYTES",
        help="cap of each container instance's log file (one older file is kept beside it)",
    )
    serving = parser.add_argument_group(
        "log API", "serve the kubelet's /containerLogs over TLS (all three files needed)"
    )
    serving.add_argument("--tls-cert-file", type=Path, help="serving certificate (PEM)")
    serving.add_argument("--tls-private-key-file", type=Path, help="its key (PEM)")
    serving.add_argument(
        "--client-ca-file", type=Path, help="CA of the API server's client certificate"
    )
    serving.add_argument(
        "--authorized-client",
        action="append",
        default=None,
        metavar="CN",
        help=f"client certificate common name allowed to read logs (default {DEFAULT_CLIENT_NAME})",
    )
    serving.add_argument("--address", default="127.0.0.1", help="address of the log API")
    serving.add_argument("--port", type=int, default=0, help="port of the log API (0: free)")
    parser.add_argument("--restart-backoff-base", type=float, default=0.5, metavar="SECONDS")
    parser.add_argument("--restart-backoff-max", type=float, default=10.0, metavar="SECONDS")
    parser.add_argument("--max-concurrent-writes", type=int, default=32)
    parser.add_argument("--log-level", choices=LEVELS, default="info")
    parser.add_argument("--log-format", choices=("json", "console"), default="json")
    return parser


async def serve(args: argparse.Namespace) -> None:
    mode: Mode = args.mode
    settings = WorkerSettings(
        mode=mode,
        work_dir=args.work_dir,
        restart_backoff_base_s=args.restart_backoff_base,
        restart_backoff_max_s=args.restart_backoff_max,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    cfg = await load_configuration(args.kubeconfig)
    api_client = new_api_client(cfg)
    # kubernetes-asyncio's aiohttp session trusts the environment: every request then looks up
    # ~/.netrc and proxy variables in a worker thread. The agent talks to a loopback apiserver
    # only, so it skips that per-request cost.
    api_client.rest_client.pool_manager._trust_env = False
    # One store: the workers write into it and the log server reads (and follows) from it.
    logs = LogStore(settings.work_dir / "pods", max_bytes=args.container_log_max_size)
    try:
        agent = NodeAgent(
            api=AgentApi(api_client),
            node_name=args.node_name,
            settings=settings,
            logs=logs,
            log_server=log_server(args, logs),
            max_concurrent_writes=args.max_concurrent_writes,
        )
        log.info(
            "node_agent_starting", node=args.node_name, mode=mode, work_dir=str(settings.work_dir)
        )
        await agent.run(stop)
    finally:
        await api_client.close()


def log_server(args: argparse.Namespace, logs: LogStore) -> LogServer | None:
    """The log API server the flags ask for; None without TLS files (ConfigError if only some
    are given)."""
    files = (args.tls_cert_file, args.tls_private_key_file, args.client_ca_file)
    if not any(files):
        return None
    if not all(files):
        raise ConfigError(
            "--tls-cert-file, --tls-private-key-file and --client-ca-file go together"
        )
    try:
        context = server_ssl_context(
            cert_file=args.tls_cert_file,
            key_file=args.tls_private_key_file,
            client_ca_file=args.client_ca_file,
        )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the log API's TLS files: {exc}") from exc
    return LogServer(
        store=logs,
        host=args.address,
        port=args.port,
        ssl_context=context,
        client_names=args.authorized_client or (DEFAULT_CLIENT_NAME,),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.work_dir = args.work_dir.resolve()
    configure_logging(args.log_level, args.log_format)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    if orphans := kill_orphans(args.work_dir / "pods"):
        log.warning("orphan_processes_killed", pids=orphans, work_dir=str(args.work_dir))
    try:
        asyncio.run(serve(args))
    except ZenflowError as exc:
        print(f"nodeagent: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
