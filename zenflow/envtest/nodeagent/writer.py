"""Latest-wins writer of one pod's status.

A pod worker publishes every status it computes; the writer sends them through the pods/status
subresource one at a time. Invariant: while a write is in flight at most one newer status waits,
and it is always the newest published, so a burst of changes (running, then terminated a moment
later) costs at most two writes and the last one written is the last one published. Retryable
failures (server unreachable, 5xx, 429) are retried with capped exponential backoff; a pod that
is gone (404) or was replaced by a new pod with its name (409 on the uid precondition) ends the
writer.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final, Protocol

from zenflow.envtest.nodeagent.kube import retryable
from zenflow.errors import ConflictError, KubeError, NotFoundError
from zenflow.logging import get_logger

log = get_logger(__name__)

RETRY_BASE_S: Final = 0.05
RETRY_MAX_S: Final = 2.0


class StatusApi(Protocol):
    async def patch_pod_status(
        self, *, namespace: str, name: str, uid: str, status: dict[str, Any]
    ) -> None: ...


class StatusWriter:
    def __init__(
        self,
        *,
        api: StatusApi,
        namespace: str,
        name: str,
        uid: str,
        limiter: asyncio.Semaphore,
    ) -> None:
        self._api = api
        self._namespace = namespace
        self._name = name
        self._uid = uid
        self._limiter = limiter
        self._latest: dict[str, Any] | None = None
        self._published = 0
        self._written = 0
        self._task: asyncio.Task[None] | None = None
        self.pod_gone = False

    def publish(self, status: dict[str, Any]) -> None:
        """Queue ``status`` to be written, replacing any not yet written."""
        if self.pod_gone:
            return
        self._latest = status
        self._published += 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name=f"status:{self._name}")

    async def flush(self) -> None:
        """Return once everything published so far is written (or the pod is gone)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _drain(self) -> None:
        while self._written < self._published and not self.pod_gone:
            version, status = self._published, self._latest
            assert status is not None
            await self._write(status)
            self._written = version

    async def _write(self, status: dict[str, Any]) -> None:
        delay = RETRY_BASE_S
        while True:
            try:
                async with self._limiter:
                    await self._api.patch_pod_status(
                        namespace=self._namespace, name=self._name, uid=self._uid, status=status
                    )
                return
            except (NotFoundError, ConflictError) as exc:
                log.info(
                    "pod_status_target_gone",
                    pod=self._name,
                    namespace=self._namespace,
                    error=str(exc),
                )
                self.pod_gone = True
                return
            except KubeError as exc:
                if not retryable(exc):
                    log.error(
                        "pod_status_rejected",
                        pod=self._name,
                        namespace=self._namespace,
                        error=str(exc),
                    )
                    return
                log.warning(
                    "pod_status_retry",
                    pod=self._name,
                    namespace=self._namespace,
                    error=str(exc),
                    delay_s=delay,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
