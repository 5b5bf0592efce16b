"""Fixtures of the SDK's tests on the real control plane: the JobFlow controller in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from kubernetes_asyncio import client

from tests.support.jobflows import Running, running_controller


@pytest_asyncio.fixture(loop_scope="session")
async def zf(kube_config: client.Configuration, namespace: str) -> AsyncIterator[Running]:
    """The JobFlow controller running in this process, watching the test's namespace."""
    async with running_controller(kube_config, namespace) as running:
        yield running
