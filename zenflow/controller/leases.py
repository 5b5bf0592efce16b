"""The ``LeaderElector`` of a Lease the controller holds — the leader election Lease, a replica's
membership Lease, the sharder's — built in one place from ``ControllerSettings``: the settings'
namespace and timings, a ``KubeLeaseStore`` whose requests never outlast the renew deadline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zenflow.controller.settings import ControllerSettings
from zenflow.kube.lease import KubeLeaseStore
from zenflow.kube.transport import DEFAULT_REQUEST_TIMEOUT_S, Transport
from zenflow.machinery.clock import Clock
from zenflow.machinery.leaderelection import LeaderElector
from zenflow.machinery.metrics import MachineryMetrics

if TYPE_CHECKING:
    from kubernetes_asyncio import client


def lease_elector(
    settings: ControllerSettings,
    api: client.ApiClient | Transport,
    *,
    name: str,
    identity: str,
    labels: dict[str, str] | None = None,
    clock: Clock | None = None,
    metrics: MachineryMetrics | None = None,
) -> LeaderElector:
    """An elector for the Lease ``name`` in the leader-election namespace, held as ``identity``
    with the settings' duration, renew deadline and retry period."""
    return LeaderElector(
        name,
        settings.leader_election_namespace,
        identity,
        settings.lease_duration,
        settings.renew_deadline,
        settings.retry_period,
        store=KubeLeaseStore(
            api,
            namespace=settings.leader_election_namespace,
            name=name,
            identity=identity,
            request_timeout=min(DEFAULT_REQUEST_TIMEOUT_S, settings.renew_deadline),
            labels=labels,
        ),
        clock=clock,
        metrics=metrics,
    )
