"""The two sinks' HTTP requests and the POST that delivers one.

- ``webhook``: a CloudEvent 1.0 in structured mode (``application/cloudevents+json``), made by
  the ``cloudevents`` SDK; ``id`` and ``time`` come from the notice, so a redelivery is the
  same event.
- ``slack``: a Slack incoming-webhook body, ``{"text": …}`` (Mattermost, Rocket.Chat and others
  accept it too).

The cloudevents SDK (and dateutil, which it imports; about 1 MiB) is loaded the first time a
CloudEvent is sent: a controller that delivers none never loads it.

Invariant: a delivery's error text never contains the URL (it came from a Secret and may embed
a token): only the HTTP status or the exception's type.
"""

from __future__ import annotations

import functools
import importlib
import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import aiohttp

from zenflow.core.notifications import Notice, notice_text

USER_AGENT = "zenflow-notifier"


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one attempt went: ``ok`` for any 2xx answer."""

    ok: bool
    status: int | None = None
    error: str | None = None


def cloudevent_request(notice: Notice) -> tuple[dict[str, str], bytes]:
    attributes: dict[str, object] = {
        "id": notice.id,
        "source": notice.source,
        "type": notice.type,
        "subject": notice.step or notice.flow,
        "datacontenttype": "application/json",
    }
    if notice.time is not None:
        attributes["time"] = notice.time
    http, formats, event = _cloudevents()
    message: Any = http.to_structured(
        event.CloudEvent(attributes, notice.data), formats.JSONFormat()
    )
    return dict(message.headers), message.body


@functools.cache
def _cloudevents() -> tuple[ModuleType, ModuleType, ModuleType]:
    """The cloudevents SDK's HTTP binding, JSON format and v1 event, loaded on first use."""
    return (
        importlib.import_module("cloudevents.core.bindings.http"),
        importlib.import_module("cloudevents.core.formats.json"),
        importlib.import_module("cloudevents.core.v1.event"),
    )


def slack_request(notice: Notice) -> tuple[dict[str, str], bytes]:
    body = json.dumps({"text": notice_text(notice)}).encode()
    return {"content-type": "application/json"}, body


def request_for(notice: Notice) -> tuple[dict[str, str], bytes]:
    if notice.notification.slack is not None:
        return slack_request(notice)
    return cloudevent_request(notice)


async def post(
    session: aiohttp.ClientSession,
    url: str,
    *,
    headers: dict[str, str],
    body: bytes,
    seconds: float,
) -> Delivery:
    """One attempt; never raises for what the receiver or the network does."""
    try:
        async with session.post(
            url,
            data=body,
            headers={**headers, "user-agent": USER_AGENT},
            timeout=aiohttp.ClientTimeout(total=seconds),
            allow_redirects=False,
        ) as resp:
            await resp.read()
            if 200 <= resp.status <= 299:
                return Delivery(ok=True, status=resp.status)
            return Delivery(ok=False, status=resp.status, error=f"HTTP {resp.status}")
    except TimeoutError:
        return Delivery(ok=False, error=f"no answer within {seconds:g}s")
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return Delivery(ok=False, error=f"request failed: {type(exc).__name__}")
