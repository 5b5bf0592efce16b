"""The transport under zenflow's one request helper (``zenflow.kube.rest``): bytes to and from
the API server, and nothing else.

``Transport`` is the small interface a unit test replaces with a fake: ``send`` returns the whole
answer of an ordinary request, ``open`` an answer read as it arrives (watches, logs).
Both real ones end in aiohttp and share ``AiohttpTransport``'s reading of answers:
``zenflow.kube.connection.HttpTransport`` is the controller process's (straight on aiohttp, no
generated client loaded); ``ApiClientTransport`` runs on a kubernetes-asyncio ``ApiClient`` (its
credentials, TLS and connection pool) for the callers that have one — it only calls the client's
methods, so this module never imports kubernetes-asyncio.

Invariants: every request carries the ``Timeout`` its caller chose (kubernetes-asyncio sets none
by default); a transport never judges a status code, never decodes a body and never translates
an error: that is the helper's job, done once. The real transport reads and releases the
connection of every ordinary answer and closes every streamed one when its context exits.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import aiohttp

if TYPE_CHECKING:
    from typing import TypeAlias

    from kubernetes_asyncio import client

JSON: Final = "application/json"
DEFAULT_REQUEST_TIMEOUT_S: Final = 30.0
"""Every ordinary request carries this timeout unless its caller gives another
(kubernetes-asyncio sets none by default)."""
Query = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Timeout:
    """Limits of one request, in seconds (None: unlimited): ``total`` for the whole exchange,
    ``connect`` to get a connection, ``read`` between two reads of the answer."""

    total: float | None = None
    connect: float | None = None
    read: float | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request by path. ``body`` is a JSON value (sent as ``content_type``)."""

    method: str
    path: str
    timeout: Timeout
    query: Query = ()
    body: Any = None
    content_type: str = JSON
    accept: str = JSON


@dataclass(frozen=True, slots=True)
class Reply:
    """The whole answer of an ordinary request."""

    status: int
    reason: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Streamed:
    """An answer whose body is read as it arrives; ``chunks`` ends with the body."""

    status: int
    reason: str
    chunks: AsyncIterator[bytes]


class Transport(abc.ABC):
    """Sends requests to one API server. Failures to reach it raise ``aiohttp.ClientError``,
    ``TimeoutError`` or ``OSError`` (or a zenflow ``KubeError``); any answer is returned."""

    host: str = ""
    """The server's URL, for messages."""

    @abc.abstractmethod
    async def send(self, request: Request) -> Reply:
        """Send ``request`` and read its whole answer."""

    @abc.abstractmethod
    def open(self, request: Request) -> AbstractAsyncContextManager[Streamed]:
        """Send ``request``; the answer is read while the context is open, closed on exit."""

    async def close(self) -> None:  # noqa: B027 -- optional: most transports own nothing
        """Release what the transport owns (its connections); nothing by default."""


@functools.lru_cache(maxsize=32)
def client_timeout(limits: Timeout) -> aiohttp.ClientTimeout:
    """aiohttp's form of ``limits`` (immutable, so one per distinct value)."""
    return aiohttp.ClientTimeout(
        total=limits.total,
        connect=limits.connect,
        sock_connect=limits.connect,
        sock_read=limits.read,
    )


class AiohttpTransport(Transport):
    """A transport whose requests end in an aiohttp answer (``_call``): an ordinary answer is
    read whole and its connection released; a streamed one is closed when its context exits."""

    @abc.abstractmethod
    async def _call(self, request: Request) -> aiohttp.ClientResponse:
        """Send ``request``; the answer's body is not read yet."""

    async def send(self, request: Request) -> Reply:
        resp = await self._call(request)
        try:
            body = await resp.read()
        finally:
            resp.release()
        return Reply(resp.status, resp.reason or "", body)

    def open(self, request: Request) -> AbstractAsyncContextManager[Streamed]:
        return self._open(request)

    @asynccontextmanager
    async def _open(self, request: Request) -> AsyncIterator[Streamed]:
        resp = await self._call(request)
        try:
            yield Streamed(resp.status, resp.reason or "", resp.content.iter_any())
        finally:
            resp.close()


class ApiClientTransport(AiohttpTransport):
    """Requests through ``ApiClient.call_api`` on raw bytes (no model classes), so the client's
    authentication, TLS settings, connection pool and request hooks apply."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.host = str(api.configuration.host)

    async def _call(self, request: Request) -> aiohttp.ClientResponse:
        headers = {"Accept": request.accept}
        if request.body is not None:
            headers["Content-Type"] = request.content_type
        resp: aiohttp.ClientResponse = await self.api.call_api(
            request.path,
            request.method,
            query_params=list(request.query),
            header_params=headers,
            body=request.body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=client_timeout(request.timeout),
        )
        return resp


if TYPE_CHECKING:
    KubeApi: TypeAlias = client.ApiClient | Transport
    """What the request helper takes: a ``Transport``, or a kubernetes-asyncio ``ApiClient`` it
    wraps in ``ApiClientTransport`` (for annotations only: nothing imports the library here)."""
