"""``ListerWatcher`` over the API server, on raw JSON (no model objects, no ``Watch()``).

Lists are paginated (500 per page; an expired continue token falls back to one full list) and
every list request carries a timeout; label and field selectors apply to lists and watches.
Watches read the response line by line and yield each line decoded (or the raw text when it is
not JSON) for the reflector to type-check; the HTTP response is always closed when the generator
closes. The server-side watch timeout bounds the
request (plus a minute of slack); the reflector's stall watchdog catches silent connections.
Requests go through the one helper, ``zenflow.kube.rest``.

Decoding is bounded and item by item (``zenflow.boundedjson``): an object nested deeper than
``max_depth`` levels (the API server accepts 10,000) becomes a placeholder
(``zenflow.machinery.listwatch.placeholder``) carrying its metadata and status, so it is cached,
reported and handled by its controller while every other object of the list or watch is
delivered as usual. A page is decoded whole when it fits the bound (the common case: one C
pass to measure, one to decode), else split into items and each decoded alone.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from zenflow import boundedjson
from zenflow.errors import GoneError
from zenflow.kube.errors import status_error
from zenflow.kube.rest import Rest
from zenflow.kube.transport import DEFAULT_REQUEST_TIMEOUT_S, JSON, Transport
from zenflow.machinery.listwatch import ListerWatcher, placeholder

if TYPE_CHECKING:
    from kubernetes_asyncio import client

PARTIAL_METADATA = "application/json;g=meta.k8s.io;v=v1"
"""The media type of metadata-only lists and watches (with ``;as=PartialObjectMetadata...``)."""
WATCH_SLACK_S = 60
"""A watch request may last this much longer than the server-side timeout it asks for."""
MAX_OBJECT_DEPTH = 64
"""Deepest object decoded (an object is 1): zenflow's kinds nest about 20 levels at most (a
step's Job template down to an affinity term), the validator allows 32 in a spec."""
PLACEHOLDER_DEPTH = 4
"""Levels of an undecodable object kept in its placeholder: metadata down to each owner
reference's fields, status down to each condition's."""


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
        field_selector: str | None = None,
        page_size: int = 500,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S,
        max_depth: int = MAX_OBJECT_DEPTH,
        metadata_only: bool = False,
    ) -> None:
        self.resource = plural
        # Metadata only: the API server answers PartialObjectMetadata(List) -- names, labels,
        # owners, managedFields -- so a cache of many objects stays small.
        self._accept = (
            f"{PARTIAL_METADATA};as=PartialObjectMetadataList" if metadata_only else JSON,
            f"{PARTIAL_METADATA};as=PartialObjectMetadata" if metadata_only else JSON,
        )
        self._rest = Rest(api, timeout=request_timeout)
        self.path = collection_path(
            group=group, version=version, plural=plural, namespace=namespace
        )
        # Named in every error, so an unreachable or misconfigured server is obvious in logs.
        self.url = f"{self._rest.host}{self.path}"
        self._selector = label_selector
        self._fields = field_selector
        self._page_size = page_size
        self.max_depth = max_depth
        """Deepest object decoded; deeper ones become placeholders."""

    def connected(self) -> None:
        """Called whenever the API server accepted a list or watch request (a 2xx answer, even
        for a watch that then stays silent); a hook for subclasses (the web UI's health)."""

    def _selectors(self) -> builtins.list[tuple[str, str]]:
        query = [("labelSelector", self._selector)] if self._selector else []
        return query + ([("fieldSelector", self._fields)] if self._fields else [])

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
            query += self._selectors()
            what = f"list {self.url}"
            reply = await self._rest.send(
                "GET", self.path, query=query, what=what, accept=self._accept[0]
            )
            if not 200 <= reply.status <= 299:
                raise status_error(reply.status, reply.reason, reply.body, what=what)
            self.connected()
            page, meta = decode_list(reply.body, max_depth=self.max_depth)
            if page is None or meta is None:
                raise GoneError(f"list {self.resource}: malformed list response", status=0)
            items.extend(page)
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
        query += self._selectors()
        lines = self._rest.lines(
            self.path,
            query,
            total=timeout_seconds + WATCH_SLACK_S,
            what=f"watch {self.url}",
            accepted=self.connected,
            accept=self._accept[1],
        )
        try:
            async for line in lines:
                yield decode_event(line, max_depth=self.max_depth)
        finally:
            await lines.aclose()


def decode_list(
    body: bytes, *, max_depth: int
) -> tuple[builtins.list[dict[str, Any]] | None, dict[str, Any] | None]:
    """A list answer's object items (placeholders for those deeper than ``max_depth``) and its
    metadata; (None, None) when it is not a list answer at all."""
    try:
        doc = boundedjson.loads(body, max_depth=max_depth + 2)
    except ValueError:
        return _decode_items_one_by_one(body, max_depth=max_depth)
    if not isinstance(doc, dict):
        return None, None
    items = doc.get("items")
    if items is None and "items" in doc:
        items = []  # an empty PartialObjectMetadataList says "items": null
    if not isinstance(items, list):
        return None, None
    meta = doc.get("metadata")
    return [o for o in items if isinstance(o, dict)], meta if isinstance(meta, dict) else None


def _decode_items_one_by_one(
    body: bytes, *, max_depth: int
) -> tuple[builtins.list[dict[str, Any]] | None, dict[str, Any] | None]:
    try:
        head, raw_items = boundedjson.array_items(body, field="items")
        doc = boundedjson.loads(head, max_depth=max_depth + 2)
    except ValueError:
        return None, None
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    items: builtins.list[dict[str, Any]] = []
    for raw in raw_items:
        obj = _decode_object(raw, max_depth=max_depth)
        if obj is not None:
            items.append(obj)
    return items, meta if isinstance(meta, dict) else None


def _decode_object(raw: bytes, *, max_depth: int) -> dict[str, Any] | None:
    try:
        obj = boundedjson.loads(raw, max_depth=max_depth)
    except ValueError as exc:
        try:
            shallow = boundedjson.loads_truncated(raw, keep_depth=PLACEHOLDER_DEPTH)
        except ValueError:
            return None
        return placeholder(shallow, _reason(exc, max_depth))
    return obj if isinstance(obj, dict) else None


def decode_event(line: bytes, *, max_depth: int) -> object:
    """One watch line decoded; an event whose object is deeper than ``max_depth`` carries the
    object's placeholder; a line that is not JSON is returned as text (for the reflector to
    refuse)."""
    try:
        return boundedjson.loads(line, max_depth=max_depth + 1)
    except boundedjson.JSONDepthError as exc:
        try:
            event = boundedjson.loads_truncated(line, keep_depth=PLACEHOLDER_DEPTH + 1)
        except ValueError:
            return line.decode("utf-8", errors="replace")
        if isinstance(event, dict):
            return {**event, "object": placeholder(event.get("object"), _reason(exc, max_depth))}
        return line.decode("utf-8", errors="replace")
    except ValueError:
        return line.decode("utf-8", errors="replace")


def _reason(exc: ValueError, max_depth: int) -> str:
    if isinstance(exc, boundedjson.JSONDepthError):
        return f"the object nests more than {max_depth} levels deep"
    return f"the object is not valid JSON: {exc}"
