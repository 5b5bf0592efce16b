"""The informer's I/O boundary: list a resource, watch it from a resourceVersion.

``ListerWatcher`` is the small abstract class the reflector drives; ``zenflow.kube.listwatch``
implements it over kubernetes-asyncio, tests implement it in memory. A watch yields *raw* decoded
lines (whatever JSON value a line held, or the line itself as ``str`` when it was not JSON):
judging whether that is a well-formed event is the reflector's job (``parse_event``), so a
malformed line can never slip past the type checks (MACHINERY.md #13, #22). An object that
arrives but cannot be decoded (deeper than the decoder's bound) is delivered as a
``placeholder``: never dropped silently, never a reason to stop listing or watching.
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Final, Literal

EventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]
EVENT_TYPES: frozenset[str] = frozenset({"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"})


class ListerWatcher(abc.ABC):
    """List and watch one resource (optionally namespace-scoped and label-selected)."""

    #: short name for logs and metrics, e.g. ``jobflows`` or ``jobs``
    resource: str = ""

    @abc.abstractmethod
    async def list(self) -> tuple[builtins.list[dict[str, Any]], str]:
        """All current objects and the list's resourceVersion. Raises zenflow KubeErrors."""

    @abc.abstractmethod
    def watch(
        self, resource_version: str, *, timeout_seconds: int, allow_bookmarks: bool
    ) -> AsyncGenerator[object, None]:
        """An async generator of raw decoded watch lines; the caller closes it (``aclose``).
        Raises ``GoneError`` when the version is too old, other KubeErrors on failure."""


UNDECODABLE: Final = "zenflow.io/undecodable"
"""Top-level key of a *placeholder*: an object the server sent that could not be decoded (it
nests deeper than the decoder's bound, or a transform choked on it). The placeholder keeps what
could be read shallowly (``apiVersion``, ``kind``, ``metadata`` without ``managedFields``,
``status``) so the object is still cached under its key, its owner can be told, and its
resourceVersion moves the watch on; this key maps to why it is a placeholder."""


def placeholder(shallow: object, reason: str) -> dict[str, Any] | None:
    """The placeholder of an object of which only ``shallow`` (its top levels) could be read;
    None when that is not even an object."""
    if not isinstance(shallow, dict):
        return None
    out: dict[str, Any] = {}
    for key in ("apiVersion", "kind"):
        if isinstance(shallow.get(key), str):
            out[key] = shallow[key]
    for key in ("metadata", "status"):
        if isinstance(shallow.get(key), dict):
            out[key] = dict(shallow[key])
    meta = out.get("metadata")
    if meta is not None:
        meta.pop("managedFields", None)
    out[UNDECODABLE] = reason
    return out


def undecodable_reason(obj: dict[str, Any]) -> str | None:
    """Why ``obj`` is a placeholder, or None for a real object."""
    reason = obj.get(UNDECODABLE)
    return reason if isinstance(reason, str) else None


class MalformedEventError(Exception):
    """A watch line that is not a well-formed watch event."""


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: EventType
    object: dict[str, Any]

    @property
    def resource_version(self) -> str:
        meta = self.object.get("metadata")
        rv = meta.get("resourceVersion") if isinstance(meta, dict) else None
        return rv if isinstance(rv, str) else ""


def parse_event(raw: object) -> WatchEvent:
    """Type-check one raw watch line. Raises MalformedEventError describing what is wrong."""
    if not isinstance(raw, dict):
        raise MalformedEventError(f"watch line is not a JSON object: {_preview(raw)}")
    etype = raw.get("type")
    obj = raw.get("object")
    if not isinstance(etype, str) or etype not in EVENT_TYPES:
        raise MalformedEventError(f"unknown watch event type {_preview(etype)}")
    if not isinstance(obj, dict):
        raise MalformedEventError(f"{etype} event without an object: {_preview(obj)}")
    if etype != "ERROR":
        meta = obj.get("metadata")
        if not isinstance(meta, dict) or not isinstance(meta.get("resourceVersion"), str):
            raise MalformedEventError(f"{etype} event object without metadata.resourceVersion")
        if etype != "BOOKMARK":
            name = meta.get("name")
            if not isinstance(name, str) or not name:
                raise MalformedEventError(f"{etype} event object without metadata.name")
            namespace = meta.get("namespace", "")
            if not isinstance(namespace, str):
                raise MalformedEventError(f"{etype} event object with a non-string namespace")
    return WatchEvent(etype, obj)  # type: ignore[arg-type]  # checked against EVENT_TYPES


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "…"
