"""The UI's live stream across an API server restart, on the real control plane: the browser's
event stream stays open, reports the outage as a ``health`` error (the API server's or the
connection's message), and once the API server is back the informer's resumed watch delivers a
flow created after the restart on that same stream, with health ``ok`` again."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from typing import Any

import aiohttp
from kubernetes_asyncio import client

from tests.support.jobflows import jobflow, step
from tests.support.plane import start_apiserver_and_recover
from tests.support.wait import eventually
from zenflow.api.constants import GROUP, JOBFLOW_PLURAL, VERSION
from zenflow.envtest import ControlPlane
from zenflow.ui import UiOptions, UiServer

Event = tuple[str, Any]


async def next_matching(
    resp: aiohttp.ClientResponse, match: Callable[[str, Any], bool], *, within: float
) -> Event:
    """Read SSE messages until one matches; fail after ``within`` seconds."""
    kind = ""
    async with asyncio.timeout(within):
        while True:
            line = (await resp.content.readline()).decode().rstrip("\n")
            if not line and resp.content.at_eof():
                raise AssertionError("the event stream ended")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if match(kind, data):
                    return kind, data


async def create_after_restart(api: client.ApiClient, namespace: str) -> None:
    objects = client.CustomObjectsApi(api)
    body = jobflow("after-restart", [step("a")])

    async def created() -> bool:
        await objects.create_namespaced_custom_object(
            GROUP, VERSION, namespace, JOBFLOW_PLURAL, body
        )
        return True

    # A pooled connection to the old apiserver process may fail once.
    await eventually(
        created,
        what="create after the restart",
        within=10,
        interval=0.2,
        retry_on=(aiohttp.ClientError, client.ApiException),
    )


async def test_the_stream_survives_an_apiserver_restart(
    control_plane: ControlPlane,
    kube_config: client.Configuration,
    api_client: client.ApiClient,
    namespace: str,
) -> None:
    options = UiOptions(namespace=namespace, port=0, login_token=secrets.token_urlsafe(16))
    jar = aiohttp.CookieJar(unsafe=True)  # the UI's cookie is set by 127.0.0.1
    async with UiServer(kube_config, options) as ui, aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(ui.login_url) as login:
            assert login.status == 200
        async with http.get(f"{ui.url}api/events/flows") as stream:
            await next_matching(stream, lambda k, _d: k == "snapshot", within=10)
            await asyncio.to_thread(control_plane.stop_apiserver)
            try:
                _, down = await next_matching(
                    stream, lambda k, d: k == "health" and d["state"] == "error", within=60
                )
            finally:
                await asyncio.to_thread(start_apiserver_and_recover, control_plane)
            assert down["message"]
            await create_after_restart(api_client, namespace)
            _, row = await next_matching(
                stream, lambda k, d: k == "upsert" and d["name"] == "after-restart", within=90
            )
            assert row["namespace"] == namespace
            await eventually(
                lambda: ui.state.watch.health().state == "ok", within=60, what="health ok"
            )
