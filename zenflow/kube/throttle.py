"""Client-side API rate limiting (client-go's ``--kube-api-qps``/``--kube-api-burst``).

``ThrottledApiClient`` is a kubernetes-asyncio ``ApiClient`` whose every request first takes a
token from a bucket shared by the whole client, and which counts requests by verb. (The
controller's own transport, ``zenflow.kube.connection.HttpTransport``, limits the same way
without the generated client; the bucket is shared code.)
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from kubernetes_asyncio import client

from zenflow.kube.client import skip_proxy_lookup
from zenflow.kube.connection import AsyncTokenBucket

__all__ = ["AsyncTokenBucket", "ThrottledApiClient"]


class ThrottledApiClient(client.ApiClient):
    def __init__(
        self,
        configuration: client.Configuration,
        *,
        qps: float,
        burst: int,
        pool_size: int = 64,
        on_request: Callable[[str], None] | None = None,
    ) -> None:
        cfg = copy.copy(configuration)
        cfg.connection_pool_maxsize = pool_size
        super().__init__(configuration=cfg)
        skip_proxy_lookup(self)
        self.bucket = AsyncTokenBucket(qps, burst)
        self._on_request = on_request
        self.requests: dict[str, int] = {}

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        await self.bucket.acquire()
        self.requests[method] = self.requests.get(method, 0) + 1
        if self._on_request is not None:
            self._on_request(method)
        return await super().request(method, url, *args, **kwargs)
