"""``ListerWatcher`` over the API server, on raw JSON (no model objects, no ``Watch()``).

Lists are paginated (500 per page; an expired continue token falls back to one full list) and
every list request carries a timeout. Watches read the response line by line and yield each
line decoded (or the raw text when it is not JSON) for the reflector to type-check; the HTTP
response is always closed when the generator closes. The server-side watch timeout bounds the
request (plus a minute of slack); the reflector's stall watchdog catches silent connections.
Requests go through the one helper, ``zenflow.kube.rest``.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import AsyncGenerator
from typing import Any

from kubernetes_asyncio import client

from zenflow.errors import GoneError
from zenflow.kube.client import DEFAULT_REQUEST_TIMEOUT_S
from zenflow.kube.rest import Rest
from zenflow.kube.transport import Transport
from zenflow.machinery.listwatch import ListerWatcher

WATCH_SLACK_S = 60
"""A watch request may last this much longer than the server-side timeout it asks for."""


def collection_path(*, group: str, version: str, plural: str, namespace: str | None) -> str:
    """``/api/v1/...`` for the core group, ``/apis/{group}/{version}/...`` otherwise."""
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    if namespace:
        return f"{prefix}/namespaces/{namespace}/{plural}"
    return f"{prefix}/{plural}"


class KubeListerWatcher(ListerWatcher):
    def __init__(
        self,
        api: client.ApiClient | Transport,
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
        self._rest = Rest(api, timeout=request_timeout)
        self.path = collection_path(
            group=group, version=version, plural=plural, namespace=namespace
        )
        # Named in every error, so an unreachable or misconfigured server is obvious in logs.
        self.url = f"{self._rest.host}{self.path}"
        self._selector = label_selector
        self._page_size = page_size

    def connected(self) -> None:
        """Called whenever the API server accepted a list or watch request (a 2xx answer, even
        for a watch that then stays silent); a hook for subclasses (the web UI's health)."""

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
            query: builtins.list[tuple[str, str]] = []
            if limit:
                query.append(("limit", str(limit)))
            if token:
                query.append(("continue", token))
            if self._selector:
                query.append(("labelSelector", self._selector))
            doc = await self._rest.request("GET", self.path, query=query, what=f"list {self.url}")
            self.connected()
            page = doc.get("items")
            meta = doc.get("metadata")
            if not isinstance(page, list) or not isinstance(meta, dict):
                raise GoneError(f"list {self.resource}: malformed list response", status=0)
            items.extend(o for o in page if isinstance(o, dict))
            token = meta.get("continue") or ""
            if not token:
                rv = meta.get("resourceVersion")
                return items, rv if isinstance(rv, str) else ""

    async def watch(
        self, resource_version: str, *, timeout_seconds: int, allow_bookmarks: bool
    ) -> AsyncGenerator[object, None]:
        query: builtins.list[tuple[str, str]] = [
            ("watch", "true"),
            ("timeoutSeconds", str(timeout_seconds)),
            ("allowWatchBookmarks", "true" if allow_bookmarks else "false"),
        ]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        if self._selector:
            query.append(("labelSelector", self._selector))
        lines = self._rest.lines(
            self.path,
            query,
            total=timeout_seconds + WATCH_SLACK_S,
            what=f"watch {self.url}",
            accepted=self.connected,
        )
        try:
            async for line in lines:
                try:
                    yield json.loads(line)
                except ValueError:
                    yield line.decode("utf-8", errors="replace")
        finally:
            await lines.aclose()
