"""The CronJobFlow controller's API actions: create a run, cancel a run, delete an old run, and
patch the CronJobFlow's status. The only module of the cron controller that calls the API server.

Every request carries a timeout and goes through ``wrapped`` so callers see zenflow's errors.
Creation tolerates AlreadyExists (run names are deterministic, so that is a run created by an
earlier reconcile); deletion and cancellation tolerate NotFound (the run is already gone).
"""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client

from zenflow.api.constants import (
    ANNOTATION_CANCEL,
    CRONJOBFLOW_PLURAL,
    GROUP,
    JOBFLOW_PLURAL,
    VERSION,
)
from zenflow.errors import AlreadyExistsError, NotFoundError
from zenflow.kube.client import DEFAULT_REQUEST_TIMEOUT_S
from zenflow.kube.errors import wrapped

MERGE_PATCH = "application/merge-patch+json"
_PATCH_OPTIONS: dict[str, Any] = {
    "_content_type": MERGE_PATCH,
    "_request_timeout": DEFAULT_REQUEST_TIMEOUT_S,
}


class CronApi:
    """API actions on JobFlows and CronJobFlows for one ApiClient."""

    def __init__(self, api: client.ApiClient) -> None:
        self._objects = client.CustomObjectsApi(api)

    async def create_jobflow(self, namespace: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Create the run and return it; None when a JobFlow of that name already exists."""
        name = body["metadata"]["name"]
        try:
            async with wrapped(f"create JobFlow {namespace}/{name}"):
                created: dict[str, Any] = await self._objects.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, JOBFLOW_PLURAL, body,
                    _request_timeout=DEFAULT_REQUEST_TIMEOUT_S,
                )  # fmt: skip
        except AlreadyExistsError:
            return None
        return created

    async def cancel_jobflow(self, namespace: str, name: str) -> None:
        """Ask the JobFlow controller to cancel the run (the ``kubectl jobflow cancel`` patch)."""
        body = {"metadata": {"annotations": {ANNOTATION_CANCEL: "true"}}}
        try:
            async with wrapped(f"cancel JobFlow {namespace}/{name}"):
                await self._objects.patch_namespaced_custom_object(
                    GROUP, VERSION, namespace, JOBFLOW_PLURAL, name, body, **_PATCH_OPTIONS
                )
        except NotFoundError:
            pass

    async def delete_jobflow(self, namespace: str, name: str) -> None:
        """Delete a finished run; its Jobs and Pods go with it (garbage collector, background)."""
        try:
            async with wrapped(f"delete JobFlow {namespace}/{name}"):
                await self._objects.delete_namespaced_custom_object(
                    GROUP, VERSION, namespace, JOBFLOW_PLURAL, name,
                    propagation_policy="Background",
                    _request_timeout=DEFAULT_REQUEST_TIMEOUT_S,
                )  # fmt: skip
        except NotFoundError:
            pass

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Merge-patch the CronJobFlow's /status (``None`` values remove fields)."""
        async with wrapped(f"patch CronJobFlow {namespace}/{name} status"):
            await self._objects.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, CRONJOBFLOW_PLURAL, name, {"status": status},
                **_PATCH_OPTIONS,
            )  # fmt: skip
