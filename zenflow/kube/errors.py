"""Wrap kubernetes-asyncio / aiohttp errors into zenflow's exception tree, once, at the boundary."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException

from zenflow.errors import (
    AlreadyExistsError,
    ConflictError,
    GoneError,
    KubeError,
    NotFoundError,
    UnreachableError,
)


def _status_message(exc: ApiException) -> tuple[str, str]:
    body = getattr(exc, "body", None)
    if isinstance(body, bytes | str):
        try:
            doc = json.loads(body)
        except ValueError:
            return str(body)[:500], ""
        if isinstance(doc, dict):
            return str(doc.get("message", "")), str(doc.get("reason", ""))
    return str(exc.reason or ""), ""


def translate(exc: BaseException, *, what: str) -> KubeError:
    """Return the zenflow error for a client-library error; ``what`` names the request."""
    if isinstance(exc, ApiException):
        message, reason = _status_message(exc)
        status = int(exc.status or 0)
        text = f"{what}: {status} {reason or exc.reason}: {message}".rstrip(": ")
        if status == 404:
            return NotFoundError(text, status=status, reason=reason)
        if status == 409:
            if reason == "AlreadyExists":
                return AlreadyExistsError(text, status=status, reason=reason)
            return ConflictError(text, status=status, reason=reason)
        if status == 410:
            return GoneError(text, status=status, reason=reason)
        return KubeError(text, status=status, reason=reason)
    if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
        return UnreachableError(f"{what}: API server unreachable: {exc!r}")
    return KubeError(f"{what}: {exc!r}")


@asynccontextmanager
async def wrapped(what: str) -> AsyncIterator[None]:
    """Run the body, re-raising client-library errors as zenflow errors (cause chained)."""
    try:
        yield
    except (ApiException, aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise translate(exc, what=what) from exc
