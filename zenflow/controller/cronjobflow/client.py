"""The CronJobFlow controller's API actions: create a run, cancel a run, delete an old run, and
patch the CronJobFlow's status. The only module of the cron controller that calls the API server.

Requests go through zenflow's one request helper (``zenflow.kube.rest``): each carries a timeout
and callers see zenflow's errors. Creation tolerates AlreadyExists (run names are deterministic,
so that is a run created by an earlier reconcile); deletion and cancellation tolerate NotFound
(the run is already gone).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from zenflow.api.constants import (
    ANNOTATION_CANCEL,
    CRONJOBFLOW_PLURAL,
    GROUP,
    JOBFLOW_PLURAL,
    VERSION,
)
from zenflow.errors import AlreadyExistsError, NotFoundError
from zenflow.kube.rest import MERGE_PATCH, Rest
from zenflow.kube.transport import Transport

if TYPE_CHECKING:
    from kubernetes_asyncio import client

__all__ = ["MERGE_PATCH", "CronApi"]


def _path(namespace: str, plural: str, name: str | None = None) -> str:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{plural}"
    return f"{base}/{name}" if name else base


class CronApi:
    """API actions on JobFlows and CronJobFlows for one ApiClient."""

    def __init__(
        self, api: client.ApiClient | Transport, *, run_labels: Mapping[str, str] | None = None
    ) -> None:
        self._rest = Rest(api)
        self._run_labels = dict(run_labels or {})
        """Labels added to every run created (the owner's shard label when sharding)."""

    async def create_jobflow(self, namespace: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Create the run and return it; None when a JobFlow of that name already exists."""
        name = body["metadata"]["name"]
        if self._run_labels:
            meta = body["metadata"]
            labels = {**(meta.get("labels") or {}), **self._run_labels}
            body = {**body, "metadata": {**meta, "labels": labels}}
        try:
            return await self._rest.request(
                "POST",
                _path(namespace, JOBFLOW_PLURAL),
                body=body,
                what=f"create JobFlow {namespace}/{name}",
            )
        except AlreadyExistsError:
            return None

    async def cancel_jobflow(self, namespace: str, name: str) -> None:
        """Ask the JobFlow controller to cancel the run (the ``kubectl jobflow cancel`` patch)."""
        body = {"metadata": {"annotations": {ANNOTATION_CANCEL: "true"}}}
        with contextlib.suppress(NotFoundError):
            await self._rest.request(
                "PATCH",
                _path(namespace, JOBFLOW_PLURAL, name),
                body=body,
                content_type=MERGE_PATCH,
                what=f"cancel JobFlow {namespace}/{name}",
            )

    async def delete_jobflow(self, namespace: str, name: str) -> None:
        """Delete a finished run; its Jobs and Pods go with it (garbage collector, background)."""
        with contextlib.suppress(NotFoundError):
            await self._rest.request(
                "DELETE",
                _path(namespace, JOBFLOW_PLURAL, name),
                body={"propagationPolicy": "Background"},
                what=f"delete JobFlow {namespace}/{name}",
            )

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Merge-patch the CronJobFlow's /status (``None`` values remove fields)."""
        await self._rest.request(
            "PATCH",
            _path(namespace, CRONJOBFLOW_PLURAL, name) + "/status",
            body={"status": status},
            content_type=MERGE_PATCH,
            what=f"patch CronJobFlow {namespace}/{name} status",
        )
