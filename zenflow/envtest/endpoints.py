"""Synchronous HTTP probes of the control plane's endpoints (stdlib only, used while starting,
before any async client exists): etcd health and compaction, apiserver GETs."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from zenflow.errors import ControlPlaneError

_TIMEOUT_S = 2.0


def _request(
    url: str, *, body: Any = None, ca_path: Path | None = None, token: str | None = None
) -> tuple[int, bytes]:
    """(status, body); status 0 when the server could not be reached at all."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data:
        request.add_header("Content-Type", "application/json")
    context = ssl.create_default_context(cafile=str(ca_path)) if ca_path else None
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S, context=context) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


def https_get(url: str, *, ca_path: Path, token: str) -> tuple[int, bytes]:
    return _request(url, ca_path=ca_path, token=token)


def etcd_healthy(etcd_url: str) -> bool:
    status, body = _request(f"{etcd_url}/health")
    if status != 200:
        return False
    health: object = json.loads(body).get("health")
    return health == "true"


def node_ready(response: tuple[int, bytes]) -> bool:
    """Whether a GET of a Node answered 200 with condition Ready=True."""
    status, body = response
    if status != 200:
        return False
    conditions = json.loads(body).get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def etcd_compact(etcd_url: str) -> int:
    """Compact etcd (through its v3 HTTP gateway) to the current revision; return it."""
    # Any range answers with the current revision in its header.
    key = base64.b64encode(b"/").decode()
    status, body = _request(f"{etcd_url}/v3/kv/range", body={"key": key, "count_only": True})
    if status != 200:
        raise ControlPlaneError(f"etcd range for its revision failed: {status} {body[:200]!r}")
    revision = int(json.loads(body)["header"]["revision"])
    status, body = _request(
        f"{etcd_url}/v3/kv/compaction", body={"revision": str(revision), "physical": True}
    )
    # Compacting to the revision already compacted (no write since) is no failure.
    if status != 200 and b"has been compacted" not in body:
        raise ControlPlaneError(f"etcd compaction to {revision} failed: {status} {body[:200]!r}")
    return revision
