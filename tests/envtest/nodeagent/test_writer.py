"""The node agent's latest-wins pod status writer (against a fake of its one-method API).

Aspects: a burst of statuses published during a write costs one more write, of the newest;
flush waits for everything published; retryable errors are retried; a vanished pod (404) or a
replaced one (409) ends the writer and later statuses are dropped; a rejected status (422) is
dropped without retry.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from zenflow.envtest.nodeagent.writer import StatusWriter
from zenflow.errors import ConflictError, KubeError, NotFoundError, UnreachableError


class FakeStatusApi:
    def __init__(self, failures: list[KubeError] | None = None) -> None:
        self.written: list[dict[str, Any]] = []
        self.failures = list(failures or [])
        self.gate = asyncio.Event()
        self.gate.set()
        self.calls = 0

    async def patch_pod_status(
        self, *, namespace: str, name: str, uid: str, status: dict[str, Any]
    ) -> None:
        self.calls += 1
        await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        self.written.append(status)


def _writer(api: FakeStatusApi) -> StatusWriter:
    return StatusWriter(api=api, namespace="ns", name="p", uid="u", limiter=asyncio.Semaphore(4))


async def test_burst_costs_one_more_write_of_the_newest() -> None:
    api = FakeStatusApi()
    api.gate.clear()
    writer = _writer(api)
    writer.publish({"n": 1})
    await asyncio.sleep(0)
    writer.publish({"n": 2})
    writer.publish({"n": 3})
    api.gate.set()
    await writer.flush()
    assert api.written == [{"n": 1}, {"n": 3}]


async def test_flush_without_publish_returns() -> None:
    await _writer(FakeStatusApi()).flush()


async def test_retryable_errors_are_retried() -> None:
    api = FakeStatusApi([UnreachableError("down"), KubeError("busy", status=503)])
    writer = _writer(api)
    writer.publish({"n": 1})
    await writer.flush()
    assert api.written == [{"n": 1}]
    assert api.calls == 3


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(NotFoundError("gone", status=404), id="not-found"),
        pytest.param(ConflictError("uid mismatch", status=409), id="replaced"),
    ],
)
async def test_gone_pod_ends_the_writer(error: KubeError) -> None:
    api = FakeStatusApi([error])
    writer = _writer(api)
    writer.publish({"n": 1})
    await writer.flush()
    assert writer.pod_gone
    writer.publish({"n": 2})
    await writer.flush()
    assert api.written == []
    assert api.calls == 1


async def test_rejected_status_is_dropped() -> None:
    api = FakeStatusApi([KubeError("invalid", status=422)])
    writer = _writer(api)
    writer.publish({"n": 1})
    await writer.flush()
    writer.publish({"n": 2})
    await writer.flush()
    assert api.written == [{"n": 2}]
    assert not writer.pod_gone
