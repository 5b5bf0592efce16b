"""``ListerWatcher`` over kubernetes-asyncio, on raw JSON (no model objects, no ``Watch()``).

Lists are paginated (500 per page; an expired continue token falls back to one full list) and
every list request carries a timeout. Watches read the response line by line and yield each
line decoded (or the raw text when it is not JSON) for the reflector to type-check; the HTTP
response is always released when the generator closes. The server-side watch timeout bounds the
request; the reflector's stall watchdog catches silent connections.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from zenflow.errors import GoneError
from zenflow.kube.client import DEFAULT_REQUEST_TIMEOUT_S
from zenflow.kube.errors import translate, wrapped
from zenflow.machinery.listwatch import ListerWatcher


def collection_path(*, group: str, version: str, plural: str, namespace: str | None) -> str:
    """``/api/v1/...`` for the core group, ``/apis/{group}/{version}/...`` otherwise."""
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    if namespace:
        return f"{prefix}/namespaces/{namespace}/{plural}"
    return f"{prefix}/{plural}"


class KubeListerWatcher(ListerWatcher):
    def __init__(
        self,
        api: client.ApiClient,
        *,
        group: str,
        version: str,
        plural: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        page_size: int = 500,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S,
    ) -> None:
        self.resource = plural
        self._api = api
        self.path = collection_path(
            group=group, version=version, plural=plural, namespace=namespace
        )
        # Named in every error, so an unreachable or misconfigured server is obvious in logs.
        self.url = f"{api.configuration.host}{self.path}"
        self._selector = label_selector
        self._page_size = page_size
        self._timeout = request_timeout

    async def list(self) -> tuple[builtins.list[dict[str, Any]], str]:
        try:
            return await self._list(self._page_size)
        except GoneError:
            # The continue token expired between pages: one unpaginated consistent list.
            return await self._list(0)

    async def _list(self, limit: int) -> tuple[builtins.list[dict[str, Any]], str]:
        items: builtins.list[dict[str, Any]] = []
        token = ""
        while True:
            query: builtins.list[tuple[str, Any]] = []
            if limit:
                query.append(("limit", limit))
            if token:
                query.append(("continue", token))
            doc = await self._get_json(query, what=f"list {self.url}")
            page = doc.get("items")
            meta = doc.get("metadata")
            if not isinstance(page, list) or not isinstance(meta, dict):
                raise GoneError(f"list {self.resource}: malformed list response", status=0)
            items.extend(o for o in page if isinstance(o, dict))
            token = meta.get("continue") or ""
            if not token:
                rv = meta.get("resourceVersion")
                return items, rv if isinstance(rv, str) else ""

    async def _get_json(
        self, query: builtins.list[tuple[str, Any]], *, what: str
    ) -> dict[str, Any]:
        if self._selector:
            query = [*query, ("labelSelector", self._selector)]
        async with wrapped(what):
            resp = await self._request(query, limits=aiohttp.ClientTimeout(total=self._timeout))
            try:
                body = await resp.read()
            finally:
                resp.release()
        _raise_for_status(resp.status, resp.reason, body, what=what)
        doc = json.loads(body)
        if not isinstance(doc, dict):
            raise GoneError(f"{what}: response is not a JSON object", status=0)
        return doc

    async def watch(
        self, resource_version: str, *, timeout_seconds: int, allow_bookmarks: bool
    ) -> AsyncGenerator[object, None]:
        what = f"watch {self.url}"
        query: builtins.list[tuple[str, Any]] = [
            ("watch", "true"),
            ("timeoutSeconds", timeout_seconds),
            ("allowWatchBookmarks", "true" if allow_bookmarks else "false"),
        ]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        if self._selector:
            query.append(("labelSelector", self._selector))
        timeout = aiohttp.ClientTimeout(
            total=timeout_seconds + 60, sock_connect=self._timeout, connect=self._timeout
        )
        async with wrapped(what):
            resp = await self._request(query, limits=timeout)
        try:
            if not 200 <= resp.status <= 299:
                async with wrapped(what):
                    body = await resp.read()
                _raise_for_status(resp.status, resp.reason, body, what=what)
            while True:
                async with wrapped(what):
                    line = await resp.content.readline()
                if not line:
                    return
                text = line.strip()
                if not text:
                    continue
                try:
                    yield json.loads(text)
                except ValueError:
                    yield text.decode("utf-8", errors="replace")
        finally:
            resp.close()

    async def _request(
        self, query: builtins.list[tuple[str, Any]], *, limits: aiohttp.ClientTimeout
    ) -> aiohttp.ClientResponse:
        resp: aiohttp.ClientResponse = await self._api.call_api(
            self.path,
            "GET",
            query_params=query,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=limits,
        )
        return resp


def _raise_for_status(status: int, reason: str | None, body: bytes, *, what: str) -> None:
    if 200 <= status <= 299:
        return
    exc = ApiException(status=status, reason=reason)
    exc.body = body
    raise translate(exc, what=what) from exc
