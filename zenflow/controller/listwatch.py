"""The list/watch sources of zenflow's informers: JobFlows, CronJobFlows, the Jobs zenflow
manages (label-selected, so the Job cache never holds a foreign Job), and the templates flows
refer to (JobFlowTemplates in the watched namespace, ClusterJobFlowTemplates cluster-wide)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from zenflow.api.constants import (
    CRONJOBFLOW_PLURAL,
    GROUP,
    JOBFLOW_PLURAL,
    LABEL_MANAGED_BY,
    MANAGED_BY_VALUE,
    VERSION,
)
from zenflow.api.templateref import CLUSTER_TEMPLATE_PLURAL, TEMPLATE_PLURAL
from zenflow.kube.listwatch import KubeListerWatcher

if TYPE_CHECKING:
    from zenflow.kube.transport import KubeApi

MANAGED_JOBS_SELECTOR: Final = f"{LABEL_MANAGED_BY}={MANAGED_BY_VALUE}"


def jobflows_lister_watcher(api: KubeApi, *, namespace: str | None) -> KubeListerWatcher:
    return KubeListerWatcher(
        api, group=GROUP, version=VERSION, plural=JOBFLOW_PLURAL, namespace=namespace
    )


def cronjobflows_lister_watcher(api: KubeApi, *, namespace: str | None) -> KubeListerWatcher:
    return KubeListerWatcher(
        api, group=GROUP, version=VERSION, plural=CRONJOBFLOW_PLURAL, namespace=namespace
    )


def jobs_lister_watcher(api: KubeApi, *, namespace: str | None) -> KubeListerWatcher:
    """batch/v1 Jobs that zenflow manages (label-selected: the cache never holds others)."""
    return KubeListerWatcher(
        api,
        group="batch",
        version="v1",
        plural="jobs",
        namespace=namespace,
        label_selector=MANAGED_JOBS_SELECTOR,
    )


def templates_lister_watcher(api: KubeApi, *, namespace: str | None) -> KubeListerWatcher:
    """JobFlowTemplates (of ``namespace``, or all)."""
    return KubeListerWatcher(
        api, group=GROUP, version=VERSION, plural=TEMPLATE_PLURAL, namespace=namespace
    )


def cluster_templates_lister_watcher(api: KubeApi) -> KubeListerWatcher:
    """ClusterJobFlowTemplates (cluster-scoped)."""
    return KubeListerWatcher(api, group=GROUP, version=VERSION, plural=CLUSTER_TEMPLATE_PLURAL)
