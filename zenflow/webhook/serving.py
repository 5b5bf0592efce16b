"""The webhook's listener, hardened against clients that connect and then hold on.

aiohttp itself bounds only idle keep-alive connections; this module adds what a server exposed to
a cluster network needs (the limits are ``ServingLimits``):

- a TLS handshake must finish within ``tls_handshake_timeout`` seconds;
- a connection must deliver its first request's headers within ``header_timeout`` seconds
  (a slowloris client trickling header bytes is closed then); later requests on a kept-alive
  connection must arrive within ``idle_timeout`` of the previous answer (aiohttp's keep-alive);
- at most ``max_connections`` connections are open at once; a further one is closed at once;
- the body must arrive within the review's time budget (``review_budget``, enforced by the
  server while it reads).

Invariant: every open connection either has a live header timer, or has delivered a request
and is governed by aiohttp's keep-alive timer; none lives unbounded. The guard only watches
(``GuardedProtocol`` forwards every call to aiohttp's own protocol unchanged).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web

from zenflow.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class ServingLimits:
    review_budget: float = 4.0
    """Seconds from a request's headers to its answer (read, queue, review, authorization); kept
    below the configuration's ``timeoutSeconds`` (5) so the API server gets our answer."""
    large_body_bytes: int = 256 * 1024
    """Bodies above this (or of unknown length) are reviewed in the slow lane."""
    header_timeout: float = 10.0
    idle_timeout: float = 60.0
    tls_handshake_timeout: float = 5.0
    max_connections: int = 512


class ConnectionGuard:
    """Counts open connections and runs their header timers (shared by all of a site's)."""

    def __init__(self, limits: ServingLimits, *, on_refused: Callable[[str], None]) -> None:
        self.limits = limits
        self.open = 0
        self._on_refused = on_refused
        self._waiting_headers: dict[asyncio.BaseTransport, asyncio.TimerHandle] = {}

    def opened(self, transport: asyncio.BaseTransport) -> bool:
        """Count a new connection; False (and the caller closes it) when over the cap."""
        if self.open >= self.limits.max_connections:
            self._on_refused("connections")
            return False
        self.open += 1
        loop = asyncio.get_running_loop()
        self._waiting_headers[transport] = loop.call_later(
            self.limits.header_timeout, self._headers_overdue, transport
        )
        return True

    def closed(self, transport: asyncio.BaseTransport) -> None:
        self.open -= 1
        timer = self._waiting_headers.pop(transport, None)
        if timer is not None:
            timer.cancel()

    def request_started(self, transport: asyncio.BaseTransport | None) -> None:
        """A request's headers arrived on ``transport``: its header timer is done."""
        timer = self._waiting_headers.pop(transport, None) if transport is not None else None
        if timer is not None:
            timer.cancel()

    def _headers_overdue(self, transport: asyncio.BaseTransport) -> None:
        self._waiting_headers.pop(transport, None)
        self._on_refused("header_timeout")
        cast(asyncio.Transport, transport).abort()


class GuardedProtocol(asyncio.Protocol):
    """aiohttp's protocol for one connection, with the guard told of its start and end."""

    def __init__(self, inner: asyncio.Protocol, guard: ConnectionGuard) -> None:
        self._inner = inner
        self._guard = guard
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._guard.opened(transport):
            cast(asyncio.Transport, transport).abort()
            return
        self._transport = transport
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is None:
            return
        self._guard.closed(self._transport)
        self._transport = None
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._transport is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._transport is not None else None

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class GuardedSite(web.BaseSite):
    """A TCP+TLS site whose connections go through a ``ConnectionGuard``."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext,
        guard: ConnectionGuard,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context)
        self._host = host
        self._port = port
        self.guard = guard
        self.bound_port = port

    @property
    def name(self) -> str:
        return f"https://{self._host}:{self.bound_port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None

        def protocol() -> asyncio.Protocol:
            return GuardedProtocol(server(), self.guard)

        created: Any = await loop.create_server(
            protocol,
            self._host,
            self._port,
            ssl=self._ssl_context,
            ssl_handshake_timeout=self.guard.limits.tls_handshake_timeout,
            backlog=self._backlog,
            reuse_address=True,
        )
        self._server = created
        if created.sockets:
            self.bound_port = int(created.sockets[0].getsockname()[1])
