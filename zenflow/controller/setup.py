"""Registration point of zenflow's controllers on the Manager (called by ``zenflow controller``).

``setup_controllers`` builds the shared informers (JobFlows, CronJobFlows, zenflow's Jobs) and
adds them to the manager; the reconcilers register their controllers here too, each one as a
``needs_leader=True`` runnable fed by these informers' event handlers.
"""

from __future__ import annotations

from kubernetes_asyncio import client

from zenflow.machinery.bootstrap import ZenflowInformers, build_informers
from zenflow.machinery.manager import Manager
from zenflow.settings import ControllerSettings


def setup_controllers(
    manager: Manager, settings: ControllerSettings, api_client: client.ApiClient
) -> ZenflowInformers:
    """Wire informers (and, once registered below, controllers) into ``manager``."""
    informers = build_informers(
        api_client,
        namespace=settings.namespace,
        registry=manager.registry,
        stall_timeout=settings.watch_stall_timeout,
    )
    for informer in informers.all():
        manager.add_informer(informer)
    # Controllers: build a RateLimitingQueue[ObjectKey] (metrics=manager.metrics.queue(name)),
    # route informer events to it, and add Controller(...) with needs_leader=True.
    return informers
