"""The UI server: the aiohttp application and its lifecycle.

``build_app`` wires the guard (host check, login, CSRF), the hardening headers, the static
assets shipped in ``zenflow/ui/static`` (vanilla JS and CSS, nothing fetched from elsewhere) and
the read, log and action routes. ``UiServer`` owns one running server: the user's API client,
the informers, the HTTP listener; ``start`` returns once the port is bound, ``stop`` closes the
event streams first (so shutdown never waits on a browser), then the listener, the informers
and the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import webbrowser
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from kubernetes_asyncio import client

from zenflow.kube.client import new_api_client
from zenflow.kube.rest import Rest
from zenflow.logging import get_logger
from zenflow.ui import actions, logs, routes
from zenflow.ui.security import Guard, add_headers, guard_middleware
from zenflow.ui.state import STATE, UiOptions, UiState
from zenflow.ui.watch import ClusterWatch

log = get_logger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
MAX_REQUEST_BYTES = 2 * 1024 * 1024  # a pasted JobFlow YAML


def build_app(state: UiState) -> web.Application:
    app = web.Application(
        middlewares=[guard_middleware(state.guard)], client_max_size=MAX_REQUEST_BYTES
    )
    app[STATE] = state
    app.on_response_prepare.append(add_headers)
    routes.add_routes(app)
    logs.add_routes(app)
    actions.add_routes(app)
    app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)

    async def close_streams(_app: web.Application) -> None:
        state.watch.hub.close()

    app.on_shutdown.append(close_streams)
    return app


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


class UiServer:
    """One UI server acting with ``cfg``'s credentials."""

    def __init__(self, cfg: client.Configuration, options: UiOptions) -> None:
        self.options = options
        self._api = new_api_client(cfg, pool_size=32)
        watch = ClusterWatch(self._api, namespace=options.namespace)
        guard = Guard.create(login_token=options.login_token, extra_hosts=options.allowed_hosts)
        self.state = UiState(options=options, watch=watch, rest=Rest(self._api), guard=guard)
        self.app = build_app(self.state)
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        self._watching: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        host = self.options.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/"

    @property
    def login_url(self) -> str:
        token = self.options.login_token
        return f"{self.url}?token={token}" if token else self.url

    async def start(self) -> None:
        self._watching = asyncio.create_task(self.state.watch.run(), name="ui-watch")
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.options.host, self.options.port)
        await site.start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else self.options.port
        log.info(
            "ui_started",
            url=self.url,
            namespace=self.options.namespace or "*",
            read_only=self.options.read_only,
        )

    async def stop(self) -> None:
        self.state.watch.hub.close()
        await self._runner.cleanup()
        if self._watching is not None:
            self._watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watching
        await self._api.close()
        log.info("ui_stopped")

    async def __aenter__(self) -> UiServer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


async def serve(
    cfg: client.Configuration,
    options: UiOptions,
    *,
    open_browser: bool = False,
    announce: Callable[[str], None] = print,
) -> int:
    """Run a UI server until SIGINT or SIGTERM; returns the exit status (0)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with UiServer(cfg, options) as server:
            scope = f"namespace {options.namespace}" if options.namespace else "all namespaces"
            mode = ", read-only" if options.read_only else ""
            announce(f"zenflow ui: JobFlows of {scope}{mode} at {server.login_url}")
            if open_browser:
                await asyncio.to_thread(webbrowser.open, server.login_url)
            await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return 0
