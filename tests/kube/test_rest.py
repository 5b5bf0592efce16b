"""The one request helper (zenflow.kube.rest) on a fake transport, and on the wire.

Aspects: every ordinary request carries the default timeout (or the caller's); JSON bodies go
out with their content type and JSON objects come back decoded ({} for an empty body); error
answers become the matching KubeError with the API server's message verbatim; a non-object or
non-JSON answer is a KubeError; an unreachable server is an UnreachableError naming the request;
``send`` returns any answer unjudged; streams yield chunks, report acceptance before the first
chunk, raise error answers and are always closed; ``lines`` splits chunks into lines (however
long, blank ones dropped, an unterminated last line kept); over a real ``ApiClient`` a line
longer than aiohttp's ``readline`` limit arrives whole and a silent server hits the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from kubernetes_asyncio import client

from tests.support.fake_transport import FakeTransport, reply, status_reply
from zenflow.errors import (
    AlreadyExistsError,
    ConflictError,
    GoneError,
    KubeError,
    NotFoundError,
    UnreachableError,
)
from zenflow.kube.client import DEFAULT_REQUEST_TIMEOUT_S
from zenflow.kube.rest import MERGE_PATCH, Rest
from zenflow.kube.transport import Reply, Request

PATH = "/api/v1/namespaces/ns/configmaps"


async def test_requests_carry_a_timeout_a_body_and_decode_the_answer() -> None:
    fake = FakeTransport()
    fake.answer("PATCH", f"{PATH}/a", reply({"metadata": {"name": "a"}}))
    fake.answer("GET", f"{PATH}/a", reply({}))
    rest = Rest(fake)
    doc = await rest.merge_patch(f"{PATH}/a", {"data": {"k": "v"}})
    assert doc == {"metadata": {"name": "a"}}
    (sent,) = fake.requests
    assert (sent.method, sent.content_type, sent.body) == (
        "PATCH",
        MERGE_PATCH,
        {"data": {"k": "v"}},
    )
    assert sent.timeout.total == DEFAULT_REQUEST_TIMEOUT_S
    await Rest(fake, timeout=2.5).get(f"{PATH}/a", [("x", "y")])
    await rest.request("GET", f"{PATH}/a", timeout_s=0.5)
    assert [(r.timeout.total, tuple(r.query)) for r in fake.requests[1:]] == [
        (2.5, (("x", "y"),)),
        (0.5, ()),
    ]


async def test_an_empty_answer_is_an_empty_object() -> None:
    fake = FakeTransport()
    fake.answer("DELETE", f"{PATH}/a", Reply(200, "OK", b""))
    assert await Rest(fake).request("DELETE", f"{PATH}/a") == {}


@pytest.mark.parametrize(
    ("answer", "error", "text"),
    [
        pytest.param(
            status_reply(404, "NotFound", 'configmaps "a" not found'),
            NotFoundError,
            'GET /api/v1/namespaces/ns/configmaps/a: 404 NotFound: configmaps "a" not found',
            id="404",
        ),
        pytest.param(
            status_reply(409, "AlreadyExists", "exists"), AlreadyExistsError, "409", id="exists"
        ),
        pytest.param(status_reply(409, "Conflict", "stale"), ConflictError, "stale", id="conflict"),
        pytest.param(status_reply(410, "Expired", "too old"), GoneError, "too old", id="gone"),
        pytest.param(
            status_reply(403, "Forbidden", 'User "alice" cannot get'),
            KubeError,
            '403 Forbidden: User "alice" cannot get',
            id="forbidden",
        ),
        pytest.param(
            Reply(502, "Bad Gateway", b"<html>bad</html>"),
            KubeError,
            "502 Bad Gateway: <html>bad</html>",
            id="not-a-status",
        ),
        pytest.param(reply([1, 2]), KubeError, "not a JSON object", id="a-list"),
        pytest.param(Reply(200, "OK", b"<html>"), KubeError, "not JSON", id="not-json"),
    ],
)
async def test_bad_answers_are_kube_errors(
    answer: Reply, error: type[KubeError], text: str
) -> None:
    fake = FakeTransport()
    fake.answer("GET", f"{PATH}/a", answer)
    with pytest.raises(error, match=re.escape(text)) as info:
        await Rest(fake).request("GET", f"{PATH}/a")
    assert info.value.status == answer.status


async def test_an_unreachable_server_is_named_in_the_error() -> None:
    fake = FakeTransport()

    def refuse(request: Request, match: re.Match[str]) -> Reply:
        raise ConnectionRefusedError("refused")

    fake.route("GET", PATH, refuse)
    with pytest.raises(UnreachableError, match="list configmaps: API server unreachable"):
        await Rest(fake).request("GET", PATH, what="list configmaps")


async def test_send_returns_any_answer() -> None:
    fake = FakeTransport()
    fake.answer("GET", "/version", status_reply(401, "Unauthorized", "no"))
    assert (await Rest(fake).send("GET", "/version")).status == 401


async def test_streams_yield_chunks_after_acceptance_and_close() -> None:
    fake = FakeTransport()
    fake.answer("GET", f"{PATH}/a/log", [b"one ", b"", b"two"])
    events: list[str] = []
    stream = Rest(fake).stream(f"{PATH}/a/log", read=5.0, accepted=lambda: events.append("ok"))
    async with contextlib.aclosing(stream):
        async for chunk in stream:
            events.append(chunk.decode())
    assert events == ["ok", "one ", "two"]
    (sent,) = fake.requests
    assert (sent.timeout.total, sent.timeout.connect, sent.timeout.read) == (None, 30.0, 5.0)
    assert (fake.opened, fake.closed) == (1, 1)


async def test_a_stream_answering_an_error_raises_it_and_closes() -> None:
    fake = FakeTransport()
    fake.answer("GET", PATH, status_reply(410, "Expired", "too old"))
    accepted: list[bool] = []
    with pytest.raises(GoneError, match="too old"):
        async for _ in Rest(fake).stream(PATH, accepted=lambda: accepted.append(True)):
            pass
    assert accepted == []
    assert (fake.opened, fake.closed) == (1, 1)


async def test_a_stream_left_early_is_closed() -> None:
    fake = FakeTransport()
    fake.answer("GET", PATH, [b"a\n", b"b\n"])
    lines = Rest(fake).lines(PATH)
    assert await anext(lines) == b"a"
    await lines.aclose()
    assert (fake.opened, fake.closed) == (1, 1)


async def test_lines_are_split_across_chunks_however_long() -> None:
    big = b"x" * (300 * 1024)
    fake = FakeTransport()
    fake.answer("GET", PATH, [b'{"a":', b" 1}\n\n  \n" + big[:1000], big[1000:] + b"\n", b"tail"])
    got = [line async for line in Rest(fake).lines(PATH, total=60.0)]
    assert got == [b'{"a": 1}', big, b"tail"]
    assert fake.requests[0].accept == "application/json"


@contextlib.asynccontextmanager
async def _hanging_server() -> AsyncIterator[str]:
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        release.set()
        await runner.cleanup()


async def test_over_an_api_client_a_line_over_aiohttps_limit_is_read_whole() -> None:
    line = b'{"blob": "' + b"x" * (400 * 1024) + b'"}'  # aiohttp's readline stops at 128 KiB

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        for start in range(0, len(line), 10_000):
            await resp.write(line[start : start + 10_000])
        await resp.write(b"\n")
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    api = client.ApiClient(
        configuration=client.Configuration(host=f"http://127.0.0.1:{runner.addresses[0][1]}")
    )
    try:
        assert [got async for got in Rest(api).lines("/watch")] == [line]
    finally:
        await api.close()
        await runner.cleanup()


async def test_over_an_api_client_a_silent_server_hits_the_timeout() -> None:
    async with _hanging_server() as host:
        api = client.ApiClient(configuration=client.Configuration(host=host))
        try:
            with pytest.raises(UnreachableError, match="GET /version"):
                await Rest(api, timeout=0.2).request("GET", "/version")
        finally:
            await api.close()
