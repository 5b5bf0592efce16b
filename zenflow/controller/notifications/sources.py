"""Where the notifier reads what it needs besides the flow: sink URLs from Secrets and the
controller-wide default notifications from a ConfigMap.

Both are read with the controller's own credentials and cached for ``ttl`` seconds (a rotated
Secret or an edited ConfigMap takes effect within that time, no restart). A Secret or key that
is missing is a ``SourceError`` whose message names the Secret and key, never a value.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import TypeAdapter, ValidationError

from zenflow.api.notification import Notification, SecretKeySelector
from zenflow.errors import KubeError, NotFoundError, ZenflowError
from zenflow.kube.rest import Rest
from zenflow.kube.transport import Transport
from zenflow.logging import get_logger

if TYPE_CHECKING:
    from kubernetes_asyncio import client

log = get_logger(__name__)

DEFAULT_TTL_S = 30.0
DEFAULTS_KEY = "notifications"
"""The ConfigMap key holding the default notifications (a YAML list)."""
_NOTIFICATIONS = TypeAdapter(list[Notification])


class SourceError(ZenflowError):
    """A Secret, key or ConfigMap the notifier needs is missing or unusable."""


class SecretUrls:
    """Sink URLs read from Secret keys."""

    def __init__(
        self,
        api: client.ApiClient | Transport,
        *,
        ttl: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rest = Rest(api)
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}

    async def url(self, namespace: str, ref: SecretKeySelector) -> str:
        data = await self._data(namespace, ref.name)
        raw = data.get(ref.key)
        if not raw:
            raise SourceError(f"Secret {namespace}/{ref.name} has no key {ref.key!r}")
        try:
            return base64.b64decode(raw).decode().strip()
        except (ValueError, UnicodeDecodeError) as exc:
            raise SourceError(f"Secret {namespace}/{ref.name} key {ref.key!r} is not text") from exc

    async def _data(self, namespace: str, name: str) -> dict[str, Any]:
        now = self._clock()
        cached = self._cache.get((namespace, name))
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            secret = await self._rest.get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
        except NotFoundError:
            raise SourceError(f"Secret {namespace}/{name} not found") from None
        except KubeError as exc:
            what = f"{exc.status} {exc.reason}".strip() if exc.status else "unreachable"
            if exc.status == 403:
                what += " (bind the ClusterRole zenflow-notification-secrets in this namespace)"
            raise SourceError(f"Secret {namespace}/{name}: {what}") from exc
        data = dict(secret.get("data") or {})
        self._cache[(namespace, name)] = (now, data)
        return data


class DefaultNotifications:
    """The controller-wide default notifications: the ConfigMap ``NAMESPACE/NAME`` key
    ``notifications``, or none when no ConfigMap is configured."""

    def __init__(
        self,
        api: client.ApiClient | Transport,
        ref: str | None,
        *,
        ttl: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rest = Rest(api)
        self.namespace, _, self.name = (ref or "").partition("/")
        self._ttl = ttl
        self._clock = clock
        self._cached: tuple[float, list[Notification]] | None = None

    async def get(self) -> list[Notification]:
        if not self.name:
            return []
        now = self._clock()
        if self._cached is not None and now - self._cached[0] < self._ttl:
            return self._cached[1]
        notifications = await self._read()
        self._cached = (now, notifications)
        return notifications

    async def _read(self) -> list[Notification]:
        where = f"ConfigMap {self.namespace}/{self.name}"
        try:
            path = f"/api/v1/namespaces/{self.namespace}/configmaps/{self.name}"
            cm = await self._rest.get(path)
        except KubeError as exc:
            log.error("notification_defaults_unreadable", configmap=where, error=str(exc))
            return []
        text = (cm.get("data") or {}).get(DEFAULTS_KEY) or "[]"
        try:
            return _NOTIFICATIONS.validate_python(yaml.safe_load(text) or [])
        except (yaml.YAMLError, ValidationError) as exc:
            log.error("notification_defaults_invalid", configmap=where, error=str(exc))
            return []
