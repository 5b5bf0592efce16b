"""The kube I/O boundary at the wire level (unit tests against a local byte-level HTTP server,
requirements 13, 22, 23, 25): list pagination and the fallback to one full list when a continue
token expires; watch lines decoded one by one, non-JSON lines passed on as text for the reflector
to refuse; an object nested deeper than the bound (10,000 levels, as the API server stores it) is
delivered as a placeholder with its metadata and status, in a list and in a watch, while the
other items of the page arrive intact; HTTP 410 raised as GoneError and 429 as a KubeError with
its status; a server that never answers hits the request timeout; the throttled client spaces
requests by its token bucket, counts them by verb, and closes cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from kubernetes_asyncio import client

from zenflow.errors import GoneError, KubeError, UnreachableError
from zenflow.kube.listwatch import KubeListerWatcher
from zenflow.kube.throttle import AsyncTokenBucket, ThrottledApiClient
from zenflow.machinery.clock import FakeClock
from zenflow.machinery.listwatch import UNDECODABLE

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def api_for(host: str) -> AsyncIterator[client.ApiClient]:
    cfg = client.Configuration(host=host)
    api = client.ApiClient(configuration=cfg)
    try:
        yield api
    finally:
        await api.close()


def _cm(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": "1"}}


async def _drain(lw: KubeListerWatcher) -> None:
    stream = lw.watch("7", timeout_seconds=300, allow_bookmarks=True)
    async with contextlib.aclosing(stream):
        async for _ in stream:
            pass


def _lw(api: client.ApiClient, **kw: Any) -> KubeListerWatcher:
    return KubeListerWatcher(api, group="", version="v1", plural="configmaps", namespace="ns", **kw)


async def test_list_follows_continue_tokens() -> None:
    seen: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        if request.query.get("continue") == "page2":
            body = {"items": [_cm("c")], "metadata": {"resourceVersion": "42"}}
        else:
            body = {"items": [_cm("a"), _cm("b")], "metadata": {"continue": "page2"}}
        return web.json_response(body)

    async with serve(handler) as host, api_for(host) as api:
        items, rv = await _lw(api, page_size=2, label_selector="x=y").list()
    assert [i["metadata"]["name"] for i in items] == ["a", "b", "c"]
    assert rv == "42"
    assert seen[0]["limit"] == "2"
    assert seen[0]["labelSelector"] == "x=y"
    assert seen[1]["continue"] == "page2"


async def test_expired_continue_token_falls_back_to_one_full_list() -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.query.get("continue"):
            return web.json_response(
                {"kind": "Status", "code": 410, "reason": "Expired"}, status=410
            )
        if "limit" not in request.query:
            return web.json_response(
                {"items": [_cm("a"), _cm("z")], "metadata": {"resourceVersion": "9"}}
            )
        return web.json_response({"items": [_cm("a")], "metadata": {"continue": "old"}})

    async with serve(handler) as host, api_for(host) as api:
        items, rv = await _lw(api).list()
    assert ([i["metadata"]["name"] for i in items], rv) == (["a", "z"], "9")


def _deep_cm(name: str, depth: int = 10_000) -> bytes:
    """A ConfigMap-shaped object whose ``data`` nests ``depth`` levels (as raw JSON text)."""
    meta = {
        "name": name,
        "namespace": "ns",
        "resourceVersion": "8",
        "managedFields": [{"fieldsV1": {"f:data": {}}}],
    }
    nested = b'{"a":' * depth + b"1" + b"}" * depth
    return (
        b'{"metadata":'
        + json.dumps(meta).encode()
        + b',"status":{"phase":"Failed"},"data":'
        + nested
        + b"}"
    )


async def test_list_delivers_a_placeholder_for_a_too_deep_item_and_every_other_item() -> None:
    async def handler(request: web.Request) -> web.Response:
        items = b",".join(
            [json.dumps(_cm("a")).encode(), _deep_cm("deep"), json.dumps(_cm("z")).encode()]
        )
        body = b'{"metadata":{"resourceVersion":"9"},"items":[' + items + b"]}"
        return web.Response(body=body, content_type="application/json")

    async with serve(handler) as host, api_for(host) as api:
        items, rv = await _lw(api).list()
    assert rv == "9"
    assert [i["metadata"]["name"] for i in items] == ["a", "deep", "z"]
    assert items[0] == _cm("a")
    assert items[1] == {
        "metadata": {"name": "deep", "namespace": "ns", "resourceVersion": "8"},
        "status": {"phase": "Failed"},
        UNDECODABLE: "the object nests more than 64 levels deep",
    }


async def test_watch_delivers_a_placeholder_for_a_too_deep_object() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(b'{"type":"MODIFIED","object":' + _deep_cm("deep", 70) + b"}\n")
        await resp.write(json.dumps({"type": "ADDED", "object": _cm("a")}).encode() + b"\n")
        await resp.write_eof()
        return resp

    async with serve(handler) as host, api_for(host) as api:
        stream = _lw(api).watch("7", timeout_seconds=300, allow_bookmarks=True)
        async with contextlib.aclosing(stream):
            lines = [line async for line in stream]
    assert lines == [
        {
            "type": "MODIFIED",
            "object": {
                "metadata": {"name": "deep", "namespace": "ns", "resourceVersion": "8"},
                "status": {"phase": "Failed"},
                UNDECODABLE: "the object nests more than 64 levels deep",
            },
        },
        {"type": "ADDED", "object": _cm("a")},
    ]


async def test_watch_decodes_lines_and_passes_non_json_on_as_text() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        assert request.query["watch"] == "true"
        assert request.query["allowWatchBookmarks"] == "true"
        assert request.query["resourceVersion"] == "7"
        assert request.query["timeoutSeconds"] == "300"
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(json.dumps({"type": "ADDED", "object": _cm("a")}).encode() + b"\n\n")
        await resp.write(b"<html>502 Bad Gateway</html>\n")
        await resp.write(b'{"type": "MODIFIED", "obj')  # truncated at the end of the stream
        await resp.write_eof()
        return resp

    async with serve(handler) as host, api_for(host) as api:
        stream = _lw(api).watch("7", timeout_seconds=300, allow_bookmarks=True)
        async with contextlib.aclosing(stream):
            lines = [line async for line in stream]
    assert lines == [
        {"type": "ADDED", "object": _cm("a")},
        "<html>502 Bad Gateway</html>",
        '{"type": "MODIFIED", "obj',
    ]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        pytest.param(410, GoneError, id="410-gone"),
        pytest.param(429, KubeError, id="429-too-many"),
        pytest.param(500, KubeError, id="500"),
    ],
)
async def test_watch_http_errors_are_translated(status: int, error: type[Exception]) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"kind": "Status", "code": status, "message": "no"}, status=status)

    async with serve(handler) as host, api_for(host) as api:
        with pytest.raises(error) as info:
            await _drain(_lw(api))
    assert getattr(info.value, "status", None) == status


async def test_list_request_times_out_when_the_server_never_answers() -> None:
    hang = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        await hang.wait()
        return web.json_response({})

    async with serve(handler) as host, api_for(host) as api:
        started = asyncio.get_running_loop().time()
        with pytest.raises(UnreachableError):
            await _lw(api, request_timeout=0.3).list()
        assert asyncio.get_running_loop().time() - started < 5
        hang.set()


async def test_token_bucket_spaces_acquires_on_its_clock() -> None:
    clock = FakeClock()
    bucket = AsyncTokenBucket(2.0, 1, clock=clock)
    assert await bucket.acquire() == 0.0
    waiter = asyncio.create_task(bucket.acquire())
    await clock.settle()
    assert not waiter.done()
    await clock.advance_settled(0.5)
    assert await waiter == pytest.approx(0.5)


async def test_throttled_client_counts_requests_and_closes() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"items": [], "metadata": {"resourceVersion": "1"}})

    verbs: list[str] = []
    async with serve(handler) as host:
        api = ThrottledApiClient(
            client.Configuration(host=host), qps=1000.0, burst=10, on_request=verbs.append
        )
        try:
            await _lw(api).list()
            await _lw(api).list()
        finally:
            await api.close()
    assert api.requests == {"GET": 2}
    assert verbs == ["GET", "GET"]
