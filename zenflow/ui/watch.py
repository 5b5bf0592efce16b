"""The UI's view of the cluster: informers on JobFlows and CronJobFlows, and their health.

One list+watch per kind in the UI's scope (a namespace, or all), made with the user's own
credentials, feeds a cache the pages read and the ``Hub`` that pushes changes to browsers. The
informers come from ``zenflow.machinery`` and keep client-go's semantics: a broken watch (an API
server restart) is resumed with backoff from the last resourceVersion, a 410 relists, and the
relist's differences reach the browsers as ordinary changes. No loop polls the API server.

``Health`` says whether the last request of each informer worked; its message is the API
server's answer verbatim (``403 Forbidden: jobflows… is forbidden: User "alice" cannot list…``)
or why it is unreachable, so a page can show it instead of an empty list.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes_asyncio import client

from zenflow.api.constants import (
    CRONJOBFLOW_PLURAL,
    GROUP,
    JOBFLOW_PLURAL,
    LABEL_CRONJOBFLOW,
    VERSION,
)
from zenflow.errors import KubeError
from zenflow.kube.listwatch import KubeListerWatcher
from zenflow.logging import get_logger
from zenflow.machinery.informer import Informer
from zenflow.machinery.reconcile import make_key
from zenflow.machinery.store import Obj
from zenflow.machinery.transform import strip_unused_metadata
from zenflow.ui.hub import Hub

log = get_logger(__name__)

CRON_INDEX = "cronjobflow"


@dataclass(frozen=True, slots=True)
class Health:
    """``ok`` after a successful request; ``error`` after a failed one (``message`` says what
    the API server answered); ``connecting`` before the first answer."""

    state: str
    message: str
    since: str

    def to_json(self) -> dict[str, str]:
        return {"state": self.state, "message": self.message, "since": self.since}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ObservedListerWatcher(KubeListerWatcher):
    """A ``KubeListerWatcher`` that reports each request's outcome to ``on_health``."""

    def __init__(
        self,
        api: client.ApiClient,
        *,
        plural: str,
        namespace: str | None,
        on_health: Callable[[str, bool, str], None],
    ) -> None:
        super().__init__(api, group=GROUP, version=VERSION, plural=plural, namespace=namespace)
        self._on_health = on_health

    async def list(self) -> tuple[builtins.list[dict[str, Any]], str]:
        try:
            return await super().list()
        except KubeError as exc:
            self._on_health(self.resource, False, str(exc))
            raise

    async def watch(
        self, resource_version: str, *, timeout_seconds: int, allow_bookmarks: bool
    ) -> AsyncGenerator[object, None]:
        stream = super().watch(
            resource_version, timeout_seconds=timeout_seconds, allow_bookmarks=allow_bookmarks
        )
        try:
            async for line in stream:
                yield line
        except KubeError as exc:
            self._on_health(self.resource, False, str(exc))
            raise
        finally:
            await stream.aclose()

    def connected(self) -> None:
        # Called for every list and watch request the server accepted: a 2xx answer means
        # connected, even for a watch that then stays silent.
        self._on_health(self.resource, True, "")


class ClusterWatch:
    """Informers on JobFlows and CronJobFlows in ``namespace`` (None: all namespaces)."""

    def __init__(self, api: client.ApiClient, *, namespace: str | None) -> None:
        self.namespace = namespace
        self.hub = Hub()
        self._health: dict[str, Health] = {}
        self.flows = Informer(self._lister(api, JOBFLOW_PLURAL), transform=strip_unused_metadata)
        self.crons = Informer(
            self._lister(api, CRONJOBFLOW_PLURAL), transform=strip_unused_metadata
        )
        self.flows.add_indexer(CRON_INDEX, _cron_of)
        self.flows.add_event_handler(self._flow_changed, self._flow_updated, self._flow_changed)
        self.crons.add_event_handler(self._cron_changed, self._cron_updated, self._cron_changed)

    def _lister(self, api: client.ApiClient, plural: str) -> ObservedListerWatcher:
        self._health[plural] = Health("connecting", "", _now())
        return ObservedListerWatcher(
            api, plural=plural, namespace=self.namespace, on_health=self._record
        )

    async def run(self) -> None:
        """List and watch until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.flows.run())
            tg.create_task(self.crons.run())

    # -- health --------------------------------------------------------------------------------

    def _record(self, resource: str, ok: bool, message: str) -> None:
        before = self._health.get(resource)
        state = "ok" if ok else "error"
        if before is not None and (before.state, before.message) == (state, message):
            return
        self._health[resource] = Health(state, message, _now())
        if ok:
            log.info("ui_watch_connected", resource=resource)
        else:
            log.warning("ui_watch_failed", resource=resource, error=message)
        self.hub.publish("health", resource)

    def health(self) -> Health:
        """The worst of the informers' health (errors first, then connecting)."""
        states = list(self._health.values())
        for wanted in ("error", "connecting"):
            for h in states:
                if h.state == wanted:
                    return h
        return states[0]

    # -- cache reads ---------------------------------------------------------------------------

    def flow(self, namespace: str, name: str) -> Obj | None:
        return self.flows.store.get(make_key(namespace, name))

    def cron(self, namespace: str, name: str) -> Obj | None:
        return self.crons.store.get(make_key(namespace, name))

    def runs_of(self, namespace: str, cron: str) -> list[Obj]:
        return self.flows.store.by_index(CRON_INDEX, make_key(namespace, cron))

    # -- informer handlers (only publish keys) -------------------------------------------------

    def _flow_changed(self, obj: Obj) -> None:
        key = _key(obj)
        self.hub.publish("flow", key)
        cron = _cron_of(obj)
        if cron:
            self.hub.publish("cron", cron[0])

    def _flow_updated(self, old: Obj, new: Obj) -> None:
        self._flow_changed(new)

    def _cron_changed(self, obj: Obj) -> None:
        self.hub.publish("cron", _key(obj))

    def _cron_updated(self, old: Obj, new: Obj) -> None:
        self._cron_changed(new)


def _key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return make_key(str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _cron_of(obj: Obj) -> list[str]:
    """The key of the CronJobFlow that created this JobFlow (its label), if any."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") if isinstance(meta, dict) else None
    cron = labels.get(LABEL_CRONJOBFLOW) if isinstance(labels, dict) else None
    if not isinstance(cron, str) or not cron:
        return []
    return [make_key(str(meta.get("namespace") or ""), cron)]
