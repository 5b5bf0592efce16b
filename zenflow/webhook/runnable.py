"""The webhook as a manager runnable: served on every replica, not gated by leadership.

Invariant: a webhook that cannot start (API server briefly unreachable, Secret race, port still
held by a previous process) never takes the controller down with it; the start is retried with
jittered backoff (0.8 s doubling to 30 s) and every failure is logged with its reason. Once
started it serves until the manager cancels it, then stops listening.
"""

from __future__ import annotations

import asyncio
import ssl

from zenflow.errors import ZenflowError
from zenflow.logging import get_logger
from zenflow.machinery.backoff import Backoff
from zenflow.machinery.clock import Clock, RealClock
from zenflow.webhook.server import WebhookServer

log = get_logger(__name__)


class WebhookRunnable:
    name = "webhook"

    def __init__(self, server: WebhookServer, *, clock: Clock | None = None) -> None:
        self.server = server
        self._clock = clock or RealClock()
        self._backoff = Backoff(clock=self._clock)

    async def _start(self) -> None:
        while True:
            try:
                await self.server.start()
                return
            except (ZenflowError, OSError, ValueError, ssl.SSLError) as exc:
                delay = self._backoff.next()
                log.error("webhook_start_failed", error=str(exc), retry_in_s=round(delay, 2))
                await self._clock.sleep(delay)

    async def run(self) -> None:
        await self._start()
        try:
            await asyncio.Event().wait()  # serve until cancelled by the manager
        finally:
            await self.server.stop()
