"""The reconcile contract and the one function that decides what follows a reconcile.

A reconciler is ``async (ObjectKey) -> Result``. It either returns a ``Result`` (optionally asking
to be called again after a delay), raises ``TerminalError`` (the object is invalid: retrying cannot
help; the reconciler records the reason on the object before raising), or raises anything else
(transient: retried with rate-limited backoff). ``handle_result`` is the only place that turns an
outcome into queue operations (MACHINERY.md #26).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, NewType, Protocol

from zenflow.errors import ZenflowError

ObjectKey = NewType("ObjectKey", str)
"""``namespace/name`` (just ``name`` for cluster-scoped objects), as client-go's
``MetaNamespaceKeyFunc`` builds it."""


def make_key(namespace: str, name: str) -> ObjectKey:
    return ObjectKey(f"{namespace}/{name}" if namespace else name)


def key_of(obj: dict[str, Any]) -> ObjectKey:
    """The key of a raw API object (dict); raises ValueError without ``metadata.name``."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise ValueError("object has no metadata")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("object has no metadata.name")
    namespace = meta.get("namespace") or ""
    if not isinstance(namespace, str):
        raise ValueError("metadata.namespace is not a string")
    return make_key(namespace, name)


def split_key(key: str) -> tuple[str, str]:
    """``(namespace, name)``; namespace is ``""`` for a cluster-scoped key."""
    namespace, sep, name = key.partition("/")
    if not sep:
        return "", namespace
    if not namespace or not name or "/" in name:
        raise ValueError(f"invalid object key {key!r}")
    return namespace, name


@dataclass(frozen=True, slots=True)
class Result:
    """What a successful reconcile asks for: ``requeue_after`` seconds → call again then (the
    key's failure backoff is reset either way)."""

    requeue_after: float | None = None


class TerminalError(ZenflowError):
    """The object cannot be reconciled as it is (e.g. an invalid spec). Not retried: the key is
    forgotten until the object changes and an informer queues it again."""


class Outcome(enum.Enum):
    """How a reconcile ended; the ``result`` label of the reconcile metric."""

    SUCCESS = "success"
    REQUEUE_AFTER = "requeue_after"
    ERROR = "error"
    TERMINAL = "terminal_error"


class ResultQueue(Protocol):
    """The part of ``RateLimitingQueue[ObjectKey]`` handle_result uses."""

    def forget(self, key: ObjectKey) -> None: ...

    def add_after(self, key: ObjectKey, seconds: float) -> None: ...

    def add_rate_limited(self, key: ObjectKey) -> None: ...


def handle_result(queue: ResultQueue, key: ObjectKey, outcome: Result | BaseException) -> Outcome:
    """Apply a reconcile's outcome to the queue (the caller still calls ``queue.done(key)``):

    - ``Result()``: forget (reset backoff); nothing is re-added;
    - ``Result(requeue_after=d)``: forget, then ``add_after(key, d)`` (``d <= 0`` re-adds now);
    - ``TerminalError``: forget; not retried;
    - any other exception: ``add_rate_limited`` (per-key exponential backoff, shared bucket).
    """
    if isinstance(outcome, Result):
        queue.forget(key)
        if outcome.requeue_after is None:
            return Outcome.SUCCESS
        queue.add_after(key, outcome.requeue_after)
        return Outcome.REQUEUE_AFTER
    if isinstance(outcome, TerminalError):
        queue.forget(key)
        return Outcome.TERMINAL
    queue.add_rate_limited(key)
    return Outcome.ERROR
