"""The one way zenflow makes a request to the API server: by path, on raw JSON.

Every caller (the controllers' API clients, list+watch, the Lease store, the API server probe,
the web UI, the envtest node agent) goes through ``Rest``, which does the whole sequence once:
send under a timeout (``DEFAULT_REQUEST_TIMEOUT_S`` unless the caller gives another; streams get
a connect timeout and whatever read limit their caller sets), read the answer, check its status,
translate any failure into zenflow's ``KubeError`` tree (``translate``/``status_error``: the API
server's own message kept verbatim, e.g. ``PATCH /apis/…/jobflows/x: 403 Forbidden: … User
"alice" cannot patch resource …``), and decode the JSON. No model classes: bodies are plain
dicts, which is cheaper and drops no unknown field.

The bytes go through a ``Transport`` (``zenflow.kube.transport``): zenflow's own on aiohttp
(``zenflow.kube.connection``, the controller's), one over a kubernetes-asyncio ``ApiClient``
(given an ``ApiClient``, ``Rest`` wraps it), or a fake in unit tests. Watch streams are split
into lines by hand (aiohttp's ``readline`` refuses lines over 128 KiB, and a flow's status may
be larger).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any, Final

from zenflow import boundedjson
from zenflow.errors import KubeError
from zenflow.kube.errors import status_error, wrapped
from zenflow.kube.transport import (
    DEFAULT_REQUEST_TIMEOUT_S,
    JSON,
    ApiClientTransport,
    Query,
    Reply,
    Request,
    Timeout,
    Transport,
)

if TYPE_CHECKING:
    from kubernetes_asyncio import client

MERGE_PATCH: Final = "application/merge-patch+json"
MAX_ANSWER_DEPTH: Final = boundedjson.DECODER_DEPTH
"""Deepest JSON answer decoded (the decoder's own bound, so an answer is never scanned for its
depth first). The API server stores objects up to 10,000 levels deep; an answer deeper than
this is a ``KubeError``, never a ``RecursionError`` (the informers of zenflow's own kinds bound
objects far lower, see ``zenflow.kube.listwatch``)."""


class Rest:
    """Requests on one transport (an ``ApiClient``'s credentials decide what the server allows)."""

    def __init__(
        self, api: client.ApiClient | Transport, *, timeout: float = DEFAULT_REQUEST_TIMEOUT_S
    ) -> None:
        self.transport = api if isinstance(api, Transport) else ApiClientTransport(api)
        self.timeout = timeout
        """Seconds an ordinary request may take, and a stream to connect."""

    @property
    def host(self) -> str:
        return self.transport.host

    # -- ordinary requests -----------------------------------------------------------------

    async def send(
        self,
        method: str,
        path: str,
        *,
        query: Query = (),
        body: Any = None,
        content_type: str = JSON,
        timeout_s: float | None = None,
        what: str | None = None,
        accept: str = JSON,
    ) -> Reply:
        """One request under the timeout and its whole answer, whatever its status (failures
        to reach the server raise ``UnreachableError``)."""
        request = Request(
            method,
            path,
            Timeout(total=self.timeout if timeout_s is None else timeout_s),
            query=query,
            body=body,
            content_type=content_type,
            accept=accept,
        )
        async with wrapped(what or f"{method} {path}"):
            return await self.transport.send(request)

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Query = (),
        body: Any = None,
        content_type: str = JSON,
        timeout_s: float | None = None,
        what: str | None = None,
    ) -> dict[str, Any]:
        """``send``, then a non-2xx status raises its ``KubeError`` (``NotFoundError``,
        ``AlreadyExistsError``, ``ConflictError``, ``GoneError``, …); the answer is decoded as
        a JSON object (``{}`` when empty)."""
        what = what or f"{method} {path}"
        reply = await self.send(
            method,
            path,
            query=query,
            body=body,
            content_type=content_type,
            timeout_s=timeout_s,
            what=what,
        )
        if not 200 <= reply.status <= 299:
            raise status_error(reply.status, reply.reason, reply.body, what=what)
        return decode_object(reply.body, status=reply.status, what=what)

    async def get(self, path: str, query: Query = ()) -> dict[str, Any]:
        return await self.request("GET", path, query=query, what=f"get {path}")

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.request("POST", path, body=body, what=f"post {path}")

    async def merge_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.request(
            "PATCH", path, body=body, content_type=MERGE_PATCH, what=f"patch {path}"
        )

    # -- streamed answers ------------------------------------------------------------------

    async def stream(
        self,
        path: str,
        query: Query = (),
        *,
        total: float | None = None,
        read: float | None = None,
        accept: str = "*/*",
        what: str | None = None,
        accepted: Callable[[], None] | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """A GET's body in chunks as they arrive (a log with ``follow=true`` runs until the
        container ends or the caller stops iterating). Connecting is bounded by the timeout;
        ``total`` and ``read`` (seconds between chunks) bound the rest when given. An error
        status raises its ``KubeError``; ``accepted`` is called once a 2xx status arrived, before
        the first chunk. The response is closed either way."""
        what = what or f"get {path}"
        limits = Timeout(total=total, connect=self.timeout, read=read)
        request = Request("GET", path, limits, query=query, accept=accept)
        async with contextlib.AsyncExitStack() as stack:
            async with wrapped(what):
                answer = await stack.enter_async_context(self.transport.open(request))
            if not 200 <= answer.status <= 299:
                async with wrapped(what):
                    body = b"".join([chunk async for chunk in answer.chunks])
                raise status_error(answer.status, answer.reason, body, what=what)
            if accepted is not None:
                accepted()
            while True:
                async with wrapped(what):
                    chunk = await anext(answer.chunks, None)
                if chunk is None:
                    return
                if chunk:
                    yield chunk

    async def lines(
        self,
        path: str,
        query: Query = (),
        *,
        total: float | None = None,
        read: float | None = None,
        what: str | None = None,
        accepted: Callable[[], None] | None = None,
        accept: str = JSON,
    ) -> AsyncGenerator[bytes, None]:
        """The non-blank lines of a streamed GET (a watch), stripped; a last line the stream
        ends without terminating is yielded too (the reader judges it)."""
        buffer = bytearray()
        stream = self.stream(
            path, query, total=total, read=read, accept=accept, what=what, accepted=accepted
        )
        try:
            async for chunk in stream:
                buffer += chunk
                while (end := buffer.find(b"\n")) >= 0:
                    line = bytes(buffer[:end]).strip()
                    del buffer[: end + 1]
                    if line:
                        yield line
            if rest := bytes(buffer).strip():
                yield rest
        finally:
            await stream.aclose()


def decode_object(body: bytes, *, status: int, what: str) -> dict[str, Any]:
    """A JSON object answer (``{}`` for an empty body); anything else is a ``KubeError``."""
    if not body:
        return {}
    try:
        doc = boundedjson.loads(body, max_depth=MAX_ANSWER_DEPTH)
    except boundedjson.JSONDepthError:
        raise KubeError(
            f"{what}: the answer nests more than {MAX_ANSWER_DEPTH} levels deep", status=status
        ) from None
    except ValueError:
        raise KubeError(f"{what}: the answer is not JSON: {body[:200]!r}", status=status) from None
    if not isinstance(doc, dict):
        raise KubeError(f"{what}: the answer is not a JSON object", status=status)
    return doc
