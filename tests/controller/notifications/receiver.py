"""A local HTTP receiver of notifications on 127.0.0.1 for tests: it records every request
(CloudEvents and Slack bodies alike) and answers per a script: 200 by default, 500 for the first
N requests of an event, or hold an event's request open until released (to have a delivery in
flight when the controller is killed)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def event(self) -> tuple[str, str]:
        """(type, subject) of a CloudEvent; ("slack", text) of a Slack body."""
        if "text" in self.body:
            return "slack", str(self.body["text"])
        return str(self.body.get("type")), str(self.body.get("subject"))


@dataclass
class Receiver:
    received: list[Received] = field(default_factory=list)
    failures: dict[tuple[str, str], int] = field(default_factory=dict)
    """(type, subject) → how many more requests of it are answered 500."""
    hold: tuple[str, str] | None = None
    held: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    port: int = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        got = Received(request.path, dict(request.headers), body)
        self.received.append(got)
        if self.hold is not None and got.event == self.hold:
            self.hold = None
            self.held.set()
            await self.release.wait()
        left = self.failures.get(got.event, 0)
        if left:
            self.failures[got.event] = left - 1
            return web.Response(status=500, text="try again")
        return web.Response(status=200, text="ok")

    def ids(self) -> Counter[str]:
        """CloudEvent id → how many times it arrived."""
        return Counter(str(r.body["id"]) for r in self.received if "id" in r.body)

    def events(self) -> Counter[tuple[str, str]]:
        return Counter(r.event for r in self.received)
