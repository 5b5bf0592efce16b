"""The notifier's reconcile: deliver what is due for one flow, record what was delivered.

One call for a flow key:
  1. the flow from the informer cache (deleted or being deleted: forget it);
  2. ``due_notices`` (pure) from its spec or the defaults, its status and its records;
  3. every due notice whose backoff has passed is POSTed, concurrently, each bounded by its
     notification's timeout;
  4. each success (and each notice whose retries are spent, as Failed) becomes a record in
     ``status.notifications``: one merge patch of the status carrying the resourceVersion read
     (a conflict re-reads the flow and merges again);
  5. ``Result(requeue_after)`` for the earliest retry.

Invariants: a notice is never sent once its record is stored; a record is written only after
the receiver's answer, so a crash before the write re-sends (at least once; same CloudEvent id);
retry counts live in memory (a restart starts a notice's backoff over) and are dropped when the
notice is recorded or the flow goes away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from prometheus_client import CollectorRegistry, Counter
from pydantic import ValidationError

from zenflow.api.constants import GROUP, JOBFLOW_PLURAL, VERSION
from zenflow.api.formats import clip
from zenflow.api.jobflow import JobFlow
from zenflow.api.notification import NotificationRecord
from zenflow.controller.notifications.sinks import Delivery, post, request_for
from zenflow.controller.notifications.sources import DefaultNotifications, SecretUrls, SourceError
from zenflow.core.notifications import Notice, due_notices, record, run_of
from zenflow.errors import ConflictError, NotFoundError
from zenflow.kube.rest import Rest
from zenflow.kube.transport import Transport
from zenflow.logging import get_logger
from zenflow.machinery.informer import Informer
from zenflow.machinery.reconcile import ObjectKey, Result

if TYPE_CHECKING:
    from kubernetes_asyncio import client

log = get_logger(__name__)

WRITE_ATTEMPTS = 5


@dataclass(slots=True)
class _Backoff:
    attempts: int
    next_at: float


class Notifier:
    """``reconcile(key) -> Result`` for the notification queue."""

    def __init__(
        self,
        *,
        flows: Informer,
        api: client.ApiClient | Transport,
        secrets: SecretUrls,
        defaults: DefaultNotifications,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._flows = flows
        self._rest = Rest(api)
        self._secrets = secrets
        self._defaults = defaults
        self._clock = clock
        self._now = now
        self._session: aiohttp.ClientSession | None = None
        self._backoff: dict[tuple[str, str, str], _Backoff] = {}
        self.deliveries = Counter(
            "zenflow_notification_deliveries",
            "Notification delivery attempts by result (delivered, failed, gave_up).",
            ["result"],
            registry=registry,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def reconcile(self, key: ObjectKey) -> Result:
        obj = self._flows.store.get(key)
        if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
            self._forget(key)
            return Result()
        try:
            flow = JobFlow.parse(obj)
        except ValidationError:
            return Result()  # the JobFlow controller reports an invalid flow
        due = due_notices(
            flow=flow,
            defaults=await self._defaults.get(),
            defaults_namespace=self._defaults.namespace,
        )
        if not due:
            return Result()
        now = self._clock()
        ready = []
        waits: list[float] = []
        for notice in due:
            state = self._backoff.get((flow.uid, notice.run, notice.key))
            if state is not None and state.next_at > now:
                waits.append(state.next_at - now)
            else:
                ready.append(notice)
        deliveries = await asyncio.gather(*(self._deliver(n) for n in ready))
        records: list[NotificationRecord] = []
        for notice, delivery in zip(ready, deliveries, strict=True):
            rec, wait = self._outcome(flow.uid, notice, delivery)
            if rec is not None:
                records.append(rec)
            if wait is not None:
                waits.append(wait)
        if records:
            await self._write(flow, records)
        return Result(requeue_after=min(waits) if waits else None)

    def _forget(self, key: ObjectKey) -> None:
        del key  # retry state is keyed by uid; drop every entry whose flow is gone
        live = {str((o.get("metadata") or {}).get("uid", "")) for o in self._flows.store.list()}
        for entry in [e for e in self._backoff if e[0] not in live]:
            del self._backoff[entry]

    def _outcome(
        self, uid: str, notice: Notice, delivery: Delivery
    ) -> tuple[NotificationRecord | None, float | None]:
        entry = (uid, notice.run, notice.key)
        attempts = (self._backoff[entry].attempts if entry in self._backoff else 0) + 1
        fields = {"flow": notice.flow, "namespace": notice.namespace, "notice": notice.key}
        if delivery.ok:
            self._backoff.pop(entry, None)
            self.deliveries.labels("delivered").inc()
            log.info("notification_delivered", attempts=attempts, status=delivery.status, **fields)
            return self._record(notice, "Delivered", attempts, None), None
        self.deliveries.labels("failed").inc()
        if attempts > notice.notification.retry_limit:
            self._backoff.pop(entry, None)
            self.deliveries.labels("gave_up").inc()
            log.warning("notification_gave_up", attempts=attempts, error=delivery.error, **fields)
            return self._record(notice, "Failed", attempts, delivery.error), None
        delay = notice.notification.backoff_seconds(attempts)
        self._backoff[entry] = _Backoff(attempts=attempts, next_at=self._clock() + delay)
        log.info(
            "notification_failed",
            attempts=attempts,
            error=delivery.error,
            retry_in_s=round(delay, 3),
            **fields,
        )
        return None, delay

    def _record(
        self, notice: Notice, state: str, attempts: int, message: str | None
    ) -> NotificationRecord:
        return NotificationRecord.model_validate(
            {
                "key": notice.key,
                "run": notice.run or None,
                "state": state,
                "time": self._now(),
                "attempts": attempts,
                "message": clip(message),
            }
        )

    async def _deliver(self, notice: Notice) -> Delivery:
        source = notice.notification.url_from
        if source is None:
            return Delivery(ok=False, error="no sink")
        try:
            url = await self._secrets.url(notice.secret_namespace, source.secret_key_ref)
        except SourceError as exc:
            return Delivery(ok=False, error=str(exc))
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers, body = request_for(notice)
        return await post(
            self._session,
            url,
            headers=headers,
            body=body,
            seconds=float(notice.notification.timeout_seconds),
        )

    async def _write(self, flow: JobFlow, records: Sequence[NotificationRecord]) -> None:
        """Merge ``records`` into the stored status (optimistic: resourceVersion, re-read on
        conflict). Records of a run that is no longer current are dropped."""
        current = flow
        for attempt in range(WRITE_ATTEMPTS):
            status = current.status
            merged = record(status.notifications if status else None, records, run=run_of(status))
            body = {
                "metadata": {"resourceVersion": current.metadata.get("resourceVersion")},
                "status": {"notifications": [r.dump() for r in merged]},
            }
            try:
                await self._patch_status(current.namespace, current.name, body)
                return
            except ConflictError:
                if attempt == WRITE_ATTEMPTS - 1:
                    raise
            except NotFoundError:
                return
            current = JobFlow.parse(await self._get(current.namespace, current.name))

    async def _patch_status(self, namespace: str, name: str, body: dict[str, Any]) -> Any:
        return await self._rest.merge_patch(f"{_flow_path(namespace, name)}/status", body)

    async def _get(self, namespace: str, name: str) -> dict[str, Any]:
        return await self._rest.get(_flow_path(namespace, name))


def _flow_path(namespace: str, name: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{JOBFLOW_PLURAL}/{name}"
