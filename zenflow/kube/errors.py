"""Wrap kubernetes-asyncio / aiohttp errors into zenflow's exception tree, once, at the boundary.

``status_error`` turns an HTTP answer with an error status into the matching ``KubeError`` (the
API server's message kept verbatim); ``translate``/``wrapped`` do the same for exceptions of the
client library and of the connection (``UnreachableError``).
"""

from __future__ import annotations

import json

import aiohttp

from zenflow.errors import (
    AlreadyExistsError,
    ConflictError,
    GoneError,
    KubeError,
    NotFoundError,
    UnreachableError,
)


def status_error(
    status: int, reason: str | None, body: bytes | str | None, *, what: str
) -> KubeError:
    """The zenflow error for an HTTP answer with a non-2xx ``status``: the API server's own
    ``Status`` message and reason when the body is one, else the start of the body."""
    message, status_reason = _status_message(body, reason)
    text = f"{what}: {status} {status_reason or reason}: {message}".rstrip(": ")
    if status == 404:
        return NotFoundError(text, status=status, reason=status_reason)
    if status == 409:
        if status_reason == "AlreadyExists":
            return AlreadyExistsError(text, status=status, reason=status_reason)
        return ConflictError(text, status=status, reason=status_reason)
    if status == 410:
        return GoneError(text, status=status, reason=status_reason)
    return KubeError(text, status=status, reason=status_reason)


def _status_message(body: bytes | str | None, reason: str | None) -> tuple[str, str]:
    if isinstance(body, bytes | str) and body:
        try:
            doc = json.loads(body)
        except ValueError:
            text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
            return text[:500], ""
        if isinstance(doc, dict):
            return str(doc.get("message", "")), str(doc.get("reason", ""))
    return str(reason or ""), ""


def is_api_exception(exc: BaseException) -> bool:
    """A kubernetes-asyncio ``ApiException`` (recognised by its class, without importing the
    library: its import loads every generated model class)."""
    return any(
        c.__name__ == "ApiException" and c.__module__.startswith("kubernetes_asyncio")
        for c in type(exc).__mro__
    )


def translate(exc: BaseException, *, what: str) -> KubeError:
    """Return the zenflow error for a client-library error; ``what`` names the request."""
    if is_api_exception(exc):
        status, reason = int(getattr(exc, "status", 0) or 0), getattr(exc, "reason", None)
        return status_error(status, reason, getattr(exc, "body", None), what=what)
    if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
        return UnreachableError(f"{what}: API server unreachable: {exc!r}")
    return KubeError(f"{what}: {exc!r}")


class _Wrapped:
    """The context manager ``wrapped`` returns: a plain class, not a generator-based one, as it
    wraps every chunk of every watch."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        # Never suppresses: an error passes through as it is, or as its zenflow error.
        if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError) or (
            isinstance(exc, Exception) and is_api_exception(exc)
        ):
            raise translate(exc, what=self.what) from exc


def wrapped(what: str) -> _Wrapped:
    """``async with wrapped(what)``: run the body, re-raising client-library errors as zenflow
    errors (cause chained)."""
    return _Wrapped(what)
