"""The probe and metrics endpoints on aiohttp: ``/healthz``, ``/readyz``, ``/metrics``.

Checks are callables returning ``(ok, detail)``; 200 with ``ok`` or 500 with the failing detail.
Port 0 binds a free port; ``start`` returns the port actually bound.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from zenflow.logging import get_logger

log = get_logger(__name__)

Check = Callable[[], tuple[bool, str]]


class ProbeServer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        registry: CollectorRegistry,
        healthz: Check,
        readyz: Check,
    ) -> None:
        self._host = host
        self._port = port
        self._registry = registry
        self._checks = {"/healthz": healthz, "/readyz": readyz}
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> int:
        app = web.Application()
        app.router.add_get("/healthz", self._check)
        app.router.add_get("/readyz", self._check)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        port = 0
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                port = int(address[1])
                break
        self.port = port
        log.info("http_server_listening", host=self._host, port=port)
        return port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _check(self, request: web.Request) -> web.Response:
        ok, detail = self._checks[request.path]()
        return web.Response(status=200 if ok else 500, text=(detail or "ok") + "\n")

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
