"""The node agent's slice of the kubelet API: ``GET /containerLogs/{namespace}/{pod}/{container}``
over TLS, which the API server proxies ``pods/log`` to (so ``kubectl logs`` works).

Only a client presenting a certificate signed by the configured client CA is served (the TLS
handshake refuses others), and only when its common name is one of ``client_names`` (the API
server's ``--kubelet-client-certificate``); anyone else gets 403. Errors are plain text with the
kubelet's status codes: 400 for a bad query or a container that has no log yet (the API server
hands the text on as the message ``kubectl logs`` prints), 404 for an unknown path.

Invariant: a followed log stops being read as soon as the client goes away (handlers are
cancelled on disconnect) or the server stops.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from zenflow.envtest.nodeagent.logread import parse_options, read_log
from zenflow.envtest.nodeagent.logs import LogNotFound, LogStore
from zenflow.logging import get_logger

log = get_logger(__name__)

DEFAULT_CLIENT_NAME: Final = "kube-apiserver-kubelet-client"
LOGS_ROUTE: Final = "/containerLogs/{namespace}/{pod}/{container}"


def server_ssl_context(*, cert_file: Path, key_file: Path, client_ca_file: Path) -> ssl.SSLContext:
    """TLS that requires a client certificate signed by ``client_ca_file``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(client_ca_file))
    context.load_cert_chain(str(cert_file), str(key_file))
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def common_name(peercert: Any) -> str:
    """The subject CN of a certificate as ``SSLSocket.getpeercert()`` returns it."""
    if not isinstance(peercert, dict):
        return ""
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""


class LogServer:
    """Serves the store's logs; ``start`` returns the port bound (0 asks for a free one)."""

    def __init__(
        self,
        *,
        store: LogStore,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext,
        client_names: Iterable[str] = (DEFAULT_CLIENT_NAME,),
    ) -> None:
        self._store = store
        self._host = host
        self._port = port
        self._ssl = ssl_context
        self._clients = frozenset(client_names)
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> int:
        app = web.Application()
        app.router.add_get(LOGS_ROUTE, self._container_logs)
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, handler_cancellation=True
        )
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port, ssl_context=self._ssl)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                self.port = int(address[1])
                break
        log.info("log_server_listening", host=self._host, port=self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _container_logs(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        client = common_name(transport.get_extra_info("peercert") if transport else None)
        if client not in self._clients:
            return web.Response(
                status=403,
                text=f"Forbidden (user={client or 'unknown'}, verb=get, resource=nodes, "
                "subresource=proxy)\n",
            )
        namespace = request.match_info["namespace"]
        pod, container = request.match_info["pod"], request.match_info["container"]
        try:
            options = parse_options(request.query)
        except ValueError as exc:
            return web.Response(status=400, text=f"{exc}\n")
        try:
            source = self._store.find(
                namespace=namespace, pod=pod, container=container, previous=options.previous
            )
        except LogNotFound as exc:
            return web.Response(status=400, text=str(exc))
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        try:
            async for chunk in read_log(source, options):
                await response.write(chunk)
        except ConnectionResetError:
            log.debug("log_reader_gone", namespace=namespace, pod=pod, container=container)
            return response
        await response.write_eof()
        return response
