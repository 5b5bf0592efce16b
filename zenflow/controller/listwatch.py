"""The list/watch sources of zenflow's informers: JobFlows, CronJobFlows, and the Jobs zenflow
manages (label-selected, so the Job cache never holds a foreign Job)."""

from __future__ import annotations

from typing import Final

from kubernetes_asyncio import client

from zenflow.api.constants import (
    CRONJOBFLOW_PLURAL,
    GROUP,
    JOBFLOW_PLURAL,
    LABEL_MANAGED_BY,
    MANAGED_BY_VALUE,
    VERSION,
)
from zenflow.kube.listwatch import KubeListerWatcher

MANAGED_JOBS_SELECTOR: Final = f"{LABEL_MANAGED_BY}={MANAGED_BY_VALUE}"


def jobflows_lister_watcher(api: client.ApiClient, *, namespace: str | None) -> KubeListerWatcher:
    return KubeListerWatcher(
        api, group=GROUP, version=VERSION, plural=JOBFLOW_PLURAL, namespace=namespace
    )


def cronjobflows_lister_watcher(
    api: client.ApiClient, *, namespace: str | None
) -> KubeListerWatcher:
    return KubeListerWatcher(
        api, group=GROUP, version=VERSION, plural=CRONJOBFLOW_PLURAL, namespace=namespace
    )


def jobs_lister_watcher(api: client.ApiClient, *, namespace: str | None) -> KubeListerWatcher:
    """batch/v1 Jobs that zenflow manages (label-selected: the cache never holds others)."""
    return KubeListerWatcher(
        api,
        group="batch",
        version="v1",
        plural="jobs",
        namespace=namespace,
        label_selector=MANAGED_JOBS_SELECTOR,
    )
