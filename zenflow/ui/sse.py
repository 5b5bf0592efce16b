"""Server-Sent Events: one long response per page, fed by a hub subscription.

``serve_events`` sends the page's snapshot first, then, each time the subscription reports
changes, the events ``render`` makes of them (reading the current cache). A comment line every
``HEARTBEAT_S`` keeps proxies and port-forwards from closing an idle stream and notices a
browser that went away. The stream ends when the browser disconnects or the server shuts
down (the hub closes); ``EventSource`` reconnects by itself and gets a fresh snapshot, so a
restarted UI server loses nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from zenflow.logging import get_logger
from zenflow.ui.hub import Changes, Hub, Wants

log = get_logger(__name__)

HEARTBEAT_S = 15.0
RETRY_MS = 1500

Event = tuple[str, Any]


def encode(event: str, data: Any) -> bytes:
    """One SSE message; the JSON is on one line (JSON escapes every newline)."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event}\ndata: {text}\n\n".encode()


async def serve_events(
    request: web.Request,
    hub: Hub,
    *,
    wants: Wants,
    snapshot: Callable[[], Iterable[Event]],
    render: Callable[[Changes], Iterable[Event]],
    heartbeat: float = HEARTBEAT_S,
) -> web.StreamResponse:
    sub = hub.subscribe(wants)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    try:
        await response.prepare(request)
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        for event, data in snapshot():
            await response.write(encode(event, data))
        while True:
            changes = await sub.take(wait_s=heartbeat)
            if changes is None:  # server shutting down
                break
            events = list(render(changes))
            if not events:
                await response.write(b": keepalive\n\n")
            for event, data in events:
                await response.write(encode(event, data))
    except (ConnectionResetError, ConnectionError):
        log.debug("ui_stream_closed", path=request.path)
    finally:
        hub.unsubscribe(sub)
    return response
