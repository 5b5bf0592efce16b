"""``HttpTransport``: zenflow's own connection to the API server, straight on aiohttp — the
transport under the request helper (``zenflow.kube.rest``) in the controller process, with no
generated client behind it.

It takes its endpoint, TLS settings and credentials from a ``KubeConfig``
(``zenflow.kube.kubeconfig``), keeps one connection pool (``pool_size`` connections; watches
hold theirs for their lifetime), and optionally rate-limits every request client-side with a
token bucket shared by the whole transport (client-go's ``--kube-api-qps``/``--kube-api-burst``;
reservations are FIFO) and counts requests by verb (``requests``, and ``on_request`` for a
metric). ``sibling`` makes another transport on the same settings with its own pool and limit
(the Event recorder's).

Invariants (``Transport``'s): every request carries the ``Timeout`` its caller chose; the
transport never judges a status code or decodes an answer; an ordinary answer is read whole and
its connection released, a streamed one closed when its context exits (both by
``AiohttpTransport``). The aiohttp session is made on first use (inside the running loop) and
closed by ``close``. A request target's URL (host, path and query, quoted as aiohttp would) is
built once and kept in a small LRU cache, as its aiohttp timeout is (``client_timeout``): most
targets repeat (a namespace's Jobs, a flow's status). Proxy variables
(``HTTPS_PROXY``…) are honoured only when set: otherwise aiohttp would look them and ``~/.netrc``
up on every request.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Final

import aiohttp
from yarl import URL

from zenflow import boundedjson
from zenflow.kube.kubeconfig import KubeConfig
from zenflow.kube.transport import AiohttpTransport, Request, client_timeout
from zenflow.machinery.clock import Clock, RealClock
from zenflow.machinery.ratelimit import BucketRateLimiter

PROXY_VARS: Final = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
)


class AsyncTokenBucket:
    """``await acquire()`` returns once a token is available (reservations are FIFO)."""

    def __init__(self, qps: float, burst: int, *, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or RealClock()
        self._bucket: BucketRateLimiter[str] = BucketRateLimiter(qps, burst, clock=self._clock)

    async def acquire(self) -> float:
        delay = self._bucket.reserve()
        if delay > 0:
            await self._clock.sleep(delay)
        return delay


@functools.lru_cache(maxsize=256)
def _url(host: str, path: str, query: tuple[tuple[str, str], ...]) -> URL:
    """The URL aiohttp would build from ``host + path`` and ``params=query``, made once per
    distinct request target (parsing and quoting cost ~10 µs a request; most targets repeat:
    the Job collection of a namespace, a flow's status)."""
    url = URL(host + path)
    return url.extend_query(query) if query else url


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class HttpTransport(AiohttpTransport):
    """Requests on one aiohttp session to the server ``config`` names."""

    def __init__(
        self,
        config: KubeConfig,
        *,
        pool_size: int = 64,
        qps: float | None = None,
        burst: int | None = None,
        on_request: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.host = config.host
        self.pool_size = pool_size
        self.bucket = AsyncTokenBucket(qps, burst or 1) if qps is not None else None
        self.requests: dict[str, int] = {}
        self._on_request = on_request
        self._tokens = config.tokens()
        self._ssl = config.ssl_context()
        self._session: aiohttp.ClientSession | None = None

    def sibling(self, *, qps: float | None, burst: int | None, pool_size: int = 8) -> HttpTransport:
        """A transport on the same settings, with its own pool, limit and counts."""
        return HttpTransport(
            self.config, pool_size=pool_size, qps=qps, burst=burst, on_request=self._on_request
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.pool_size, ssl=self._ssl),
                trust_env=any(os.environ.get(v) for v in PROXY_VARS),
                # The API server sets no cookies; a jar would be consulted on every request.
                cookie_jar=aiohttp.DummyCookieJar(),
                json_serialize=json.dumps,
            )
        return self._session

    async def _call(self, request: Request) -> aiohttp.ClientResponse:
        if self.bucket is not None:
            await self.bucket.acquire()
        self.requests[request.method] = self.requests.get(request.method, 0) + 1
        if self._on_request is not None:
            self._on_request(request.method)
        headers = {"Accept": request.accept}
        data = None
        if request.body is not None:
            headers["Content-Type"] = request.content_type
            data = boundedjson.dumps(request.body, default=_json_default)
        token = self._tokens.get()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        extra: dict[str, Any] = {}
        if self.config.tls_server_name:
            extra["server_hostname"] = self.config.tls_server_name
        return await self._session_now().request(
            request.method,
            _url(self.host, request.path, tuple(request.query)),
            data=data,
            headers=headers,
            timeout=client_timeout(request.timeout),
            **extra,
        )
