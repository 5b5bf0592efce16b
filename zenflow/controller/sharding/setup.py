"""Wiring of sharding into a controller process (``--sharding``), kept at the edges: the
reconcilers never learn of it beyond the labels their writes carry and the drain guard around
them.

``ShardEdges`` tells ``setup_controllers`` what this replica's shard is (its membership
identity as a label value), which labels its creates carry, which field manager its writes
name (``zenflow-controller/<shard>``: an audit tells the writers apart), and wraps each
controller's reconcile with the drain guard. ``add_sharder`` adds the sharder runnable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zenflow.api.constants import (
    CRONJOBFLOW_KIND,
    CRONJOBFLOW_PLURAL,
    FIELD_MANAGER,
    JOBFLOW_KIND,
    JOBFLOW_PLURAL,
    LABEL_SHARD,
)
from zenflow.controller.bootstrap import ZenflowInformers, sibling_client
from zenflow.controller.settings import ControllerSettings
from zenflow.controller.sharding.drain import drain_guard
from zenflow.controller.sharding.membership import shard_identity
from zenflow.controller.sharding.metrics import ShardMetrics, shard_metrics
from zenflow.controller.sharding.sharder import Sharder
from zenflow.kube.transport import Transport
from zenflow.machinery.controller import Reconcile
from zenflow.machinery.manager import Manager

if TYPE_CHECKING:
    from kubernetes_asyncio import client


@dataclass(frozen=True, slots=True)
class ShardEdges:
    identity: str
    shard: str
    field_manager: str
    metrics: ShardMetrics
    api: client.ApiClient | Transport

    @property
    def labels(self) -> dict[str, str]:
        """Labels of everything this replica creates (Jobs, a cron's runs)."""
        return {LABEL_SHARD: self.shard}

    def guard_flows(self, informers: ZenflowInformers) -> Callable[[Reconcile], Reconcile]:
        return self._guard(informers, JOBFLOW_KIND)

    def guard_crons(self, informers: ZenflowInformers) -> Callable[[Reconcile], Reconcile]:
        return self._guard(informers, CRONJOBFLOW_KIND)

    def _guard(self, informers: ZenflowInformers, kind: str) -> Callable[[Reconcile], Reconcile]:
        flows = kind == JOBFLOW_KIND
        informer = informers.jobflows if flows else informers.cronjobflows
        self.metrics.owned.labels(kind).set_function(lambda: len(informer.store))
        return drain_guard(
            store=informer.store,
            plural=JOBFLOW_PLURAL if flows else CRONJOBFLOW_PLURAL,
            kind=kind,
            api=self.api,
            shard=self.shard,
            field_manager=self.field_manager,
            metrics=self.metrics,
        )


def shard_edges(
    manager: Manager, settings: ControllerSettings, api: client.ApiClient | Transport
) -> ShardEdges | None:
    """This replica's edges when ``settings.sharding`` (None otherwise)."""
    if not settings.sharding or manager.elector is None:
        return None
    identity = manager.elector.identity
    shard = shard_identity(identity)
    metrics = shard_metrics(manager.registry)
    metrics.info.labels(shard).set(1)
    return ShardEdges(identity, shard, f"{FIELD_MANAGER}/{shard}", metrics, api)


def add_sharder(manager: Manager, settings: ControllerSettings, edges: ShardEdges) -> Sharder:
    """The sharder campaigns on members only (it needs this replica's membership); it writes
    on its own connections, apart from the reconcilers' budget, bounded by its concurrency
    (``PARALLEL_WRITES``) rather than a client-side rate: a member's death moves its flows in
    one burst, and the takeover time is that burst's length."""
    api = sibling_client(edges.api, qps=None, burst=None, pool_size=24)
    if api is not edges.api:
        manager.add_cleanup(api.close)
    lease_api = sibling_client(edges.api, qps=None, burst=None, pool_size=2)
    if lease_api is not edges.api:
        manager.add_cleanup(lease_api.close)
    sharder = Sharder(
        settings,
        api,
        lease_api=lease_api,
        identity=edges.identity,
        field_manager=edges.field_manager,
        metrics=edges.metrics,
        registry=manager.registry,
    )
    manager.add_runnable(sharder, needs_leader=True)
    return sharder
