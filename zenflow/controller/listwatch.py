"""The list/watch sources of zenflow's informers: JobFlows, CronJobFlows, the Jobs zenflow
manages (label-selected, so the Job cache never holds a foreign Job), and the templates flows
refer to (JobFlowTemplates in the watched namespace, ClusterJobFlowTemplates cluster-wide).
With sharding, JobFlows, CronJobFlows and Jobs are selected by the replica's own shard label;
templates are never sharded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from zenflow import boundedjson
from zenflow.api.constants import (
    CRONJOBFLOW_PLURAL,
    GROUP,
    JOBFLOW_PLURAL,
    LABEL_MANAGED_BY,
    LABEL_SHARD,
    MANAGED_BY_VALUE,
    VERSION,
)
from zenflow.api.templateref import CLUSTER_TEMPLATE_PLURAL, TEMPLATE_PLURAL
from zenflow.kube.listwatch import KubeListerWatcher

if TYPE_CHECKING:
    from zenflow.kube.transport import KubeApi

MANAGED_JOBS_SELECTOR: Final = f"{LABEL_MANAGED_BY}={MANAGED_BY_VALUE}"


def shard_selector(shard: str | None) -> str | None:
    """The label selector of one shard's objects (None: all, sharding off)."""
    return None if shard is None else f"{LABEL_SHARD}={shard}"


def _zenflow_lister_watcher(
    api: KubeApi, plural: str, *, namespace: str | None, shard: str | None
) -> KubeListerWatcher:
    """One of zenflow's own kinds, of one shard when sharding."""
    return KubeListerWatcher(
        api,
        group=GROUP,
        version=VERSION,
        plural=plural,
        namespace=namespace,
        label_selector=shard_selector(shard),
    )


def jobflows_lister_watcher(
    api: KubeApi, *, namespace: str | None, shard: str | None = None
) -> KubeListerWatcher:
    return _zenflow_lister_watcher(api, JOBFLOW_PLURAL, namespace=namespace, shard=shard)


def cronjobflows_lister_watcher(
    api: KubeApi, *, namespace: str | None, shard: str | None = None
) -> KubeListerWatcher:
    return _zenflow_lister_watcher(api, CRONJOBFLOW_PLURAL, namespace=namespace, shard=shard)


def jobs_lister_watcher(
    api: KubeApi, *, namespace: str | None, shard: str | None = None
) -> KubeListerWatcher:
    """batch/v1 Jobs that zenflow manages (label-selected: the cache never holds others), of
    one shard when sharding."""
    selector = (
        MANAGED_JOBS_SELECTOR if shard is None else f"{MANAGED_JOBS_SELECTOR},{LABEL_SHARD}={shard}"
    )
    return KubeListerWatcher(
        api,
        group="batch",
        version="v1",
        plural="jobs",
        namespace=namespace,
        label_selector=selector,
        # The Job cache's transform (jobcache.compact_job) reads fixed, shallow fields and drops
        # the rest, so nothing recurses into a Job: the decoder's own bound is enough, and the
        # text of each of the ~4 watch events per step is not scanned for its depth first.
        max_depth=boundedjson.DECODER_DEPTH,
    )


def templates_lister_watcher(api: KubeApi, *, namespace: str | None) -> KubeListerWatcher:
    """JobFlowTemplates (of ``namespace``, or all)."""
    return KubeListerWatcher(
        api, group=GROUP, version=VERSION, plural=TEMPLATE_PLURAL, namespace=namespace
    )


def cluster_templates_lister_watcher(api: KubeApi) -> KubeListerWatcher:
    """ClusterJobFlowTemplates (cluster-scoped)."""
    return KubeListerWatcher(api, group=GROUP, version=VERSION, plural=CLUSTER_TEMPLATE_PLURAL)
