"""A test's own record of every Job the controller creates (crash and fault-injection tests).

``JobTracker`` runs an informer of its own with the controller's selector for zenflow's Jobs and
records every uid each Job name ever had: a Job deleted and created again under its
deterministic name shows two. ``caught_up`` proves the record is complete up to now: it waits
until its watch delivers a marker Job created after everything else (a watch delivers events in
order), instead of giving the watch some time.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

from kubernetes_asyncio import client

from tests.support.informers import synced
from tests.support.wait import eventually
from zenflow.api.constants import LABEL_MANAGED_BY, MANAGED_BY_VALUE
from zenflow.controller.listwatch import jobs_lister_watcher
from zenflow.machinery.informer import Informer


class JobTracker:
    """Every uid each zenflow Job name had in ``namespace``, from an informer of the test's."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.namespace = namespace
        self.created: dict[str, set[str]] = {}
        self._batch = client.BatchV1Api(api)
        self.informer = Informer(jobs_lister_watcher(api, namespace=namespace))
        self.informer.add_event_handler(self._seen, lambda _old, new: self._seen(new), None)

    def _seen(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self.created.setdefault(meta["name"], set()).add(meta["uid"])

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[JobTracker]:
        """Run the informer (synced on entry) until the block ends."""
        async with synced(self.informer):
            yield self

    async def seen(self, at_least: int, *, within: float = 60.0) -> int:
        """Wait until at least ``at_least`` Job names were seen; how many were."""

        def count() -> int | None:
            return len(self.created) if len(self.created) >= at_least else None

        return await eventually(count, what=f"{at_least} Jobs seen", within=within)

    async def caught_up(self, *, within: float = 60.0) -> None:
        """Return once every Job event up to now has reached the record.

        The marker is labelled as zenflow's (so this informer sees it) but has no owner (the
        controller ignores it) and is suspended (no pod); it is deleted and forgotten again."""
        name = f"tracker-mark-{secrets.token_hex(3)}"
        key = f"{self.namespace}/{name}"
        marker: Any = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name, "labels": {LABEL_MANAGED_BY: MANAGED_BY_VALUE}},
            "spec": {
                "suspend": True,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "busybox", "command": ["true"]}],
                    }
                },
            },
        }
        await self._batch.create_namespaced_job(self.namespace, marker)
        await eventually(lambda: name in self.created, what="the marker Job seen", within=within)
        await self._batch.delete_namespaced_job(
            name, self.namespace, propagation_policy="Background"
        )
        await eventually(
            lambda: self.informer.store.get(key) is None, what="the marker gone", within=within
        )
        del self.created[name]
