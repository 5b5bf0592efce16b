"""Fixtures for the UI's unit tests: a UI app whose informer caches are fed by hand (no API
server: the client points at a closed port and is never used by these routes)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from kubernetes_asyncio import client

from zenflow.kube.rest import Rest
from zenflow.ui import UiOptions, build_app
from zenflow.ui.security import Guard
from zenflow.ui.state import UiState
from zenflow.ui.watch import ClusterWatch

LOGIN = "login-token-for-tests"

MakeClient = Callable[..., Any]


@pytest_asyncio.fixture(loop_scope="session")
async def ui_app() -> AsyncIterator[Callable[..., Any]]:
    """Call with UiOptions fields to get (TestClient, UiState); all closed after the test."""
    opened: list[tuple[TestClient[Any, Any], client.ApiClient]] = []

    async def make(**options: Any) -> tuple[TestClient[Any, Any], UiState]:
        opts = UiOptions(**{"namespace": "ns", "login_token": LOGIN, **options})
        api = client.ApiClient(configuration=client.Configuration(host="http://127.0.0.1:9"))
        guard = Guard.create(login_token=opts.login_token, extra_hosts=opts.allowed_hosts)
        state = UiState(
            options=opts, watch=ClusterWatch(api, namespace=opts.namespace), rest=Rest(api),
            guard=guard,
        )  # fmt: skip
        test_client: TestClient[Any, Any] = TestClient(TestServer(build_app(state)))
        await test_client.start_server()
        opened.append((test_client, api))
        return test_client, state

    yield make
    for test_client, api in opened:
        await test_client.close()
        await api.close()
