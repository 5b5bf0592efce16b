"""A fake ``zenflow.kube.transport.Transport`` for pure unit tests of code above the request
helper (``kube.rest.Rest``): routes requests by method and path pattern to handlers, records
every request, and counts streams opened and closed. Integration tests use the real control
plane instead.

A handler gets the ``Request`` and the path's match and returns a ``Reply`` (see ``reply`` and
``status_reply``), a list of byte chunks (a streamed 200 answer), or raises (``OSError`` stands
for an unreachable server). A request no route matches gets 404 NotFound.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from zenflow.kube.transport import Reply, Request, Streamed, Transport

Answer = Reply | list[bytes]
Handler = Callable[[Request, re.Match[str]], Answer]


def reply(body: Any = None, status: int = 200) -> Reply:
    """A JSON answer (an empty body for None)."""
    return Reply(status, "", b"" if body is None else json.dumps(body).encode())


def status_reply(code: int, reason: str, message: str) -> Reply:
    """An error answer carrying a ``Status`` object, as the API server sends it."""
    doc = {"kind": "Status", "status": "Failure", "code": code, "reason": reason}
    return Reply(code, reason, json.dumps({**doc, "message": message}).encode())


class FakeTransport(Transport):
    host = "https://fake-apiserver"

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.opened = 0
        self.closed = 0
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def route(self, method: str, path: str, handler: Handler) -> None:
        """Answer ``method`` requests whose whole path matches the regex ``path`` (routes added
        later win)."""
        self._routes.insert(0, (method, re.compile(path), handler))

    def answer(self, method: str, path: str, *answers: Answer) -> None:
        """Answer with ``answers`` in turn (the last one repeats)."""
        queue = list(answers)

        def handler(request: Request, match: re.Match[str]) -> Answer:
            return queue.pop(0) if len(queue) > 1 else queue[0]

        self.route(method, path, handler)

    def sent(self, method: str | None = None, path: str | None = None) -> list[Request]:
        """Requests sent so far, optionally of one method and whose path matches ``path``."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method)
            and (path is None or re.fullmatch(path, r.path))
        ]

    def _dispatch(self, request: Request) -> Answer:
        self.requests.append(request)
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if method == request.method and match is not None:
                return handler(request, match)
        return status_reply(404, "NotFound", f"{request.path} not found")

    async def send(self, request: Request) -> Reply:
        answer = self._dispatch(request)
        if isinstance(answer, list):
            return Reply(200, "OK", b"".join(answer))
        return answer

    def open(self, request: Request) -> AbstractAsyncContextManager[Streamed]:
        return self._open(request)

    @asynccontextmanager
    async def _open(self, request: Request) -> AsyncIterator[Streamed]:
        answer = self._dispatch(request)
        chunks = answer if isinstance(answer, list) else [answer.body]
        status, reason = (200, "OK") if isinstance(answer, list) else (answer.status, answer.reason)

        async def stream() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        self.opened += 1
        try:
            yield Streamed(status, reason, stream())
        finally:
            self.closed += 1
