"""Wiring the machinery for the ``zenflow controller`` process from ``ControllerSettings``:
the throttled transport (zenflow's own, on aiohttp: no generated client in the process), the
Event recorder's transport, zenflow's informers, the leader elector, the manager, and a
preflight that waits (with backoff, naming the URL) until the API server answers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

from zenflow.api.constants import API_VERSION, CRONJOBFLOW_KIND, JOBFLOW_KIND
from zenflow.controller.jobcache import compact_job
from zenflow.controller.leases import lease_elector
from zenflow.controller.listwatch import (
    cluster_templates_lister_watcher,
    cronjobflows_lister_watcher,
    jobflows_lister_watcher,
    jobs_lister_watcher,
    templates_lister_watcher,
)
from zenflow.controller.settings import ControllerSettings
from zenflow.controller.sharding.membership import membership_elector
from zenflow.errors import KubeError
from zenflow.kube.connection import HttpTransport
from zenflow.kube.kubeconfig import KubeConfig
from zenflow.kube.rest import Rest
from zenflow.kube.transport import Transport
from zenflow.logging import get_logger
from zenflow.machinery.backoff import Backoff
from zenflow.machinery.clock import Clock, RealClock
from zenflow.machinery.informer import OWNER_INDEX, Informer, owner_indexer
from zenflow.machinery.leaderelection import default_identity
from zenflow.machinery.manager import Manager
from zenflow.machinery.metrics import labelled, machinery_metrics
from zenflow.machinery.transform import SpecSharing, Transform, strip_unused_metadata

if TYPE_CHECKING:
    from kubernetes_asyncio import client

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ZenflowInformers:
    """The controller's caches. ``jobs`` is label-selected to zenflow's Jobs and indexed by
    owning JobFlow key (``OWNER_INDEX``); ``jobflows`` by owning CronJobFlow key. Every cache
    holds objects without ``managedFields`` and the last-applied annotation
    (``strip_unused_metadata``), and the Job cache only what the controller reads of a Job
    (``jobcache.compact_job``), unless built with other transforms."""

    jobflows: Informer
    cronjobflows: Informer
    jobs: Informer
    templates: Informer
    """JobFlowTemplates (flows' step and flow templateRefs resolve from it)."""
    cluster_templates: Informer
    """ClusterJobFlowTemplates."""

    def all(self) -> list[Informer]:
        return [self.jobflows, self.cronjobflows, self.jobs, self.templates, self.cluster_templates]


def build_informers(
    api: client.ApiClient | Transport,
    *,
    namespace: str | None,
    registry: CollectorRegistry,
    stall_timeout: float = 150.0,
    transform: Transform | None = strip_unused_metadata,
    job_transform: Transform | None = compact_job,
    shard: str | None = None,
) -> ZenflowInformers:
    """``shard``: cache only that shard's JobFlows, CronJobFlows and Jobs (sharding)."""
    metrics = machinery_metrics(registry)
    jobflows = Informer(
        jobflows_lister_watcher(api, namespace=namespace, shard=shard),
        stall_timeout=stall_timeout,
        metrics=metrics,
        # Flows stamped from one template or CronJobFlow share one copy of their spec.
        transform=SpecSharing() if transform is strip_unused_metadata else transform,
    )
    jobflows.add_indexer(OWNER_INDEX, owner_indexer(CRONJOBFLOW_KIND, api_version=API_VERSION))
    cronjobflows = Informer(
        cronjobflows_lister_watcher(api, namespace=namespace, shard=shard),
        stall_timeout=stall_timeout,
        metrics=metrics,
        transform=transform,
    )
    jobs = Informer(
        jobs_lister_watcher(api, namespace=namespace, shard=shard),
        stall_timeout=stall_timeout,
        metrics=metrics,
        transform=job_transform,
    )
    jobs.add_indexer(OWNER_INDEX, owner_indexer(JOBFLOW_KIND, api_version=API_VERSION))
    templates = Informer(
        templates_lister_watcher(api, namespace=namespace),
        stall_timeout=stall_timeout,
        metrics=metrics,
        transform=transform,
    )
    cluster_templates = Informer(
        cluster_templates_lister_watcher(api),
        stall_timeout=stall_timeout,
        metrics=metrics,
        transform=transform,
    )
    return ZenflowInformers(
        jobflows=jobflows,
        cronjobflows=cronjobflows,
        jobs=jobs,
        templates=templates,
        cluster_templates=cluster_templates,
    )


def new_controller_api_client(
    config: KubeConfig, settings: ControllerSettings, *, registry: CollectorRegistry
) -> HttpTransport:
    """The controller's transport: client-side rate limit ``qps``/``burst``, a pool sized for
    the watches and workers, requests counted in ``zenflow_api_requests_total``."""
    by_verb = labelled(machinery_metrics(registry).api_requests)
    return HttpTransport(
        config,
        qps=settings.qps,
        burst=settings.burst,
        pool_size=max(32, settings.workers * 4),  # each TLS connection holds ~200 KiB
        on_request=lambda verb: by_verb(verb).inc(),
    )


def new_events_api_client(
    api: client.ApiClient | Transport, settings: ControllerSettings
) -> client.ApiClient | Transport:
    """The Event recorder's transport: for the controller's own one, a sibling with the same
    settings, its own rate limit (``event_qps``/``event_burst``) and a small pool, counted in the
    same metric; any other client (a test's unthrottled ``ApiClient``) is shared as it is."""
    if isinstance(api, HttpTransport):
        return api.sibling(qps=settings.event_qps, burst=settings.event_burst, pool_size=8)
    return api


def sibling_client(
    api: client.ApiClient | Transport, *, qps: float | None, burst: int | None, pool_size: int
) -> client.ApiClient | Transport:
    """A transport with its own pool and budget (None: unthrottled) for the controller's own
    one, so its requests never queue behind the reconcilers'; any other client is shared."""
    if isinstance(api, HttpTransport):
        return api.sibling(qps=qps, burst=burst, pool_size=pool_size)
    return api


def build_manager(
    settings: ControllerSettings,
    api: client.ApiClient | Transport,
    *,
    registry: CollectorRegistry,
    identity: str | None = None,
) -> Manager:
    """A Manager with leader election per ``settings`` (with sharding, the elector holds this
    replica's membership Lease instead); closing ``api`` is its last cleanup."""
    elector = None
    lease_api = api
    if settings.sharding:
        # Renewals on their own connection and budget: a renewal that waits behind a burst of
        # reconciles past the renew deadline would take the replica out of the ring.
        lease_api = sibling_client(api, qps=None, burst=None, pool_size=2)
        elector = membership_elector(
            settings,
            lease_api,
            identity=identity or default_identity(),
            metrics=machinery_metrics(registry),
        )
    elif settings.leader_election:
        identity = identity or default_identity()
        elector = lease_elector(
            settings,
            api,
            name=settings.lease_name,
            identity=identity,
            metrics=machinery_metrics(registry),
        )
    manager = Manager(
        elector=elector,
        registry=registry,
        http_host=settings.http_host,
        http_port=settings.http_port,
        shutdown_timeout=settings.shutdown_timeout,
    )
    manager.add_cleanup(api.close)
    if lease_api is not api:
        manager.add_cleanup(lease_api.close)
    return manager


async def wait_for_apiserver(
    api: client.ApiClient | Transport,
    *,
    stop: asyncio.Event,
    clock: Clock | None = None,
    request_timeout: float = 10.0,
) -> bool:
    """Poll ``GET /version`` until it answers (True) or ``stop`` is set (False), logging each
    failure with the URL and the next retry delay (jittered backoff, 0.8 s doubling to 30 s)."""
    clock = clock or RealClock()
    backoff = Backoff(clock=clock)
    url = Rest(api).host
    while not stop.is_set():
        try:
            await _get_version(api, request_timeout=request_timeout)
        except KubeError as exc:
            delay = backoff.next()
            log.error("apiserver_unreachable", url=url, error=str(exc), retry_in_s=round(delay, 2))
            stopping = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({stopping}, timeout=delay)
            finally:
                stopping.cancel()
            continue
        log.info("apiserver_reachable", url=url)
        return True
    return False


async def _get_version(api: client.ApiClient | Transport, *, request_timeout: float) -> None:
    """Any answer but a server error or a refusal of our credentials means reachable."""
    rest = Rest(api, timeout=request_timeout)
    reply = await rest.send("GET", "/version", what=f"GET {rest.host}/version")
    if reply.status >= 500 or reply.status in (401, 403):
        raise KubeError(f"GET {rest.host}/version: HTTP {reply.status}", status=reply.status)
