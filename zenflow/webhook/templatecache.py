"""The templates flows refer to, cached for the webhook by watching them: JobFlowTemplates in every
namespace and ClusterJobFlowTemplates, one informer each — as the controller resolves flows from
caches of its own (``controller/jobflow/templates.py``) — so a review needs no GET per template.

Invariants: ``get`` answers only from a synced cache, and only objects the API server sent (less
the metadata nobody reads); a template it does not hold — the cache not synced yet, or a
template created a moment ago — is ``None``, which the caller reads from the API server: a miss
never means "does not exist". The informers run from ``start`` to ``stop``; a watch that fails
(RBAC missing, API server away) is retried with backoff and only costs the cache's hits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from kubernetes_asyncio import client

from zenflow.api.constants import GROUP, VERSION
from zenflow.api.templateref import CLUSTER_TEMPLATE_KIND, CLUSTER_TEMPLATE_PLURAL, TEMPLATE_PLURAL
from zenflow.core.flowtemplates.resolve import TemplateKey
from zenflow.kube.listwatch import KubeListerWatcher
from zenflow.kube.transport import Transport
from zenflow.machinery.informer import Informer
from zenflow.machinery.transform import strip_unused_metadata


class TemplateCache:
    """Informer caches of both template kinds, read through ``api``."""

    def __init__(self, api: client.ApiClient | Transport) -> None:
        def informer(plural: str) -> Informer:
            watched = KubeListerWatcher(api, group=GROUP, version=VERSION, plural=plural)
            return Informer(watched, transform=strip_unused_metadata)

        self.templates = informer(TEMPLATE_PLURAL)
        self.cluster_templates = informer(CLUSTER_TEMPLATE_PLURAL)
        self._tasks: list[asyncio.Task[None]] = []

    def get(self, key: TemplateKey) -> Mapping[str, Any] | None:
        """The cached template of ``key``, or None when the cache cannot say (not synced, or
        not holding it)."""
        kind, namespace, name = key
        if kind == CLUSTER_TEMPLATE_KIND:
            informer, store_key = self.cluster_templates, name
        else:
            informer, store_key = self.templates, f"{namespace}/{name}"
        return informer.store.get(store_key) if informer.has_synced() else None

    def start(self) -> None:
        """Start listing and watching (returns at once; ``get`` misses until synced)."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(i.run(), name=f"webhook-{i.resource}-informer")
                for i in (self.templates, self.cluster_templates)
            ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
