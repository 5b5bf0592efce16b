"""The webhook as a manager runnable (zenflow.webhook.runnable), with an injected clock.

Aspects: a start that fails (certificate source raising) is retried with backoff and never
raises out of ``run``; once started the server is ready; cancelling the runnable (manager
shutdown) stops the server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from prometheus_client import CollectorRegistry

from tests.support.wait import eventually
from tests.webhook.test_admission import fake_validate
from zenflow.certs import renew, service_hosts
from zenflow.errors import UnreachableError
from zenflow.machinery.clock import FakeClock
from zenflow.webhook.certstore import CertFiles, FileCertSource
from zenflow.webhook.runnable import WebhookRunnable
from zenflow.webhook.server import WebhookServer


class FlakySource:
    """Fails ``failures`` times like an unreachable API server, then reads the directory."""

    settled = True

    def __init__(self, directory: Path, failures: int) -> None:
        self._files = FileCertSource(directory)
        self.failures = failures
        self.calls = 0

    async def refresh(self) -> CertFiles:
        self.calls += 1
        if self.calls <= self.failures:
            raise UnreachableError("GET secret: API server unreachable")
        return await self._files.refresh()


async def test_start_is_retried_then_served_then_stopped(tmp_path: Path) -> None:
    bundle = renew(None, hosts=service_hosts("w", "ns", ["127.0.0.1"]), now=dt.datetime.now(dt.UTC))
    (tmp_path / "tls.crt").write_bytes(bundle.cert_pem)
    (tmp_path / "tls.key").write_bytes(bundle.key_pem)
    source = FlakySource(tmp_path, failures=2)
    server = WebhookServer(
        source=source,
        validate=fake_validate,  # reviews in threads: no worker processes to wait for
        host="127.0.0.1",
        port=0,
        registry=CollectorRegistry(),
    )
    clock = FakeClock()
    runnable = WebhookRunnable(server, clock=clock)
    task = asyncio.create_task(runnable.run())
    await clock.settle()
    assert source.calls == 1
    assert not server.ready
    # The backoff runs on the fake clock; the real bind happens on the event loop.
    await eventually(
        lambda: server.ready,
        what="the server ready",
        within=10,
        interval=0.01,
        between=lambda: clock.advance(1.0),
    )
    assert source.calls == 3
    assert server.ready
    assert not task.done()

    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert not server.ready
