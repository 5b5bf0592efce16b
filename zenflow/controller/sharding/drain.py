"""The owner's side of a handover: the drain guard around a controller's reconcile.

When the sharder marks an object ``workflow.zen.io/drain=true``, its owner's next reconcile of
that key -- the work queue hands a key to one worker at a time, so no other reconcile of it is
running -- does no work and acknowledges: one merge patch removing the shard and drain labels,
carrying the resourceVersion it read, so an acknowledgement computed from a stale cache is
refused (409) and tried again when the newer version reaches the cache (its watch event
queues the key). After it the object leaves this replica's caches (they select its
shard label) and the sharder may assign it elsewhere. An object not in the cache, or not being
drained, is reconciled as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from zenflow.api.constants import GROUP, LABEL_DRAIN, LABEL_SHARD, VERSION
from zenflow.controller.sharding.metrics import ShardMetrics
from zenflow.errors import ConflictError, NotFoundError
from zenflow.kube.rest import MERGE_PATCH, Rest
from zenflow.kube.transport import Transport
from zenflow.logging import get_logger
from zenflow.machinery.controller import Reconcile
from zenflow.machinery.reconcile import ObjectKey, Result, split_key
from zenflow.machinery.store import Store

if TYPE_CHECKING:
    from kubernetes_asyncio import client

log = get_logger(__name__)


def draining(obj: dict[str, Any]) -> bool:
    return ((obj.get("metadata") or {}).get("labels") or {}).get(LABEL_DRAIN) == "true"


def drain_guard(
    *,
    store: Store,
    plural: str,
    kind: str,
    api: client.ApiClient | Transport,
    shard: str,
    field_manager: str,
    metrics: ShardMetrics,
) -> Callable[[Reconcile], Reconcile]:
    """Wrap a reconcile of ``plural`` objects (cached in ``store``) with the acknowledgement."""
    rest = Rest(api)

    def wrap(reconcile: Reconcile) -> Reconcile:
        async def guarded(key: ObjectKey) -> Result:
            obj = store.get(key)
            if obj is None or not draining(obj):
                metrics.reconciles.labels(kind).inc()
                return await reconcile(key)
            namespace, name = split_key(key)
            meta = obj.get("metadata") or {}
            body = {
                "metadata": {
                    "resourceVersion": meta.get("resourceVersion"),
                    "labels": {LABEL_SHARD: None, LABEL_DRAIN: None},
                }
            }
            path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{plural}/{name}"
            try:
                await rest.request(
                    "PATCH",
                    path,
                    query=[("fieldManager", field_manager)],
                    body=body,
                    content_type=MERGE_PATCH,
                    what=f"acknowledge drain of {kind} {key}",
                )
            except ConflictError:
                # Our cache is behind: the newer version's watch event queues the key again.
                log.debug("shard_drain_stale", kind=kind, flow=key, shard=shard)
                return Result()
            except NotFoundError:
                return Result()
            metrics.drains_acknowledged.labels(kind).inc()
            log.info("shard_drain_acknowledged", kind=kind, flow=key, shard=shard)
            return Result()

        return guarded

    return wrap
