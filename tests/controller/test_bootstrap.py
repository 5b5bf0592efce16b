"""Process wiring from settings (unit): zenflow's three informers, the Job informer label-selected
to zenflow's Jobs (MACHINERY.md #16) and indexed by owning JobFlow, JobFlows by owning CronJobFlow;
the manager gets an elector with the configured Lease and timings (none without leader
election); the controller's own transport (no generated client) has its pool sized for the
watches and workers and the client-side rate limit of the settings; the Event recorder's is a
sibling with its own limit and pool. With sharding, JobFlows, CronJobFlows and Jobs are selected
by the replica's shard label (templates are not) and the manager's elector holds the replica's
labelled membership Lease on a connection of its own."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from zenflow.controller.bootstrap import (
    build_informers,
    build_manager,
    new_controller_api_client,
    new_events_api_client,
)
from zenflow.controller.settings import (
    ControllerSettings,
    add_settings_arguments,
    settings_from_args,
)
from zenflow.kube.connection import HttpTransport
from zenflow.kube.kubeconfig import KubeConfig
from zenflow.kube.listwatch import KubeListerWatcher
from zenflow.machinery.informer import OWNER_INDEX


def _settings(*argv: str) -> ControllerSettings:
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser)
    return settings_from_args(parser.parse_args(list(argv)), env={})


@pytest.fixture
async def api() -> AsyncIterator[HttpTransport]:
    cfg = KubeConfig(host="https://127.0.0.1:1")
    api = new_controller_api_client(cfg, _settings("--workers", "32"), registry=CollectorRegistry())
    try:
        yield api
    finally:
        await api.close()


async def test_informers(api: HttpTransport) -> None:
    informers = build_informers(api, namespace="team", registry=CollectorRegistry())
    lws = [i.reflector._lw for i in informers.all()]
    assert all(isinstance(lw, KubeListerWatcher) for lw in lws)
    paths = [lw.path for lw in lws if isinstance(lw, KubeListerWatcher)]
    assert paths == [
        "/apis/workflow.zen.io/v1alpha1/namespaces/team/jobflows",
        "/apis/workflow.zen.io/v1alpha1/namespaces/team/cronjobflows",
        "/apis/batch/v1/namespaces/team/jobs",
        "/apis/workflow.zen.io/v1alpha1/namespaces/team/jobflowtemplates",
        "/apis/workflow.zen.io/v1alpha1/clusterjobflowtemplates",
    ]
    jobs_lw = lws[2]
    assert isinstance(jobs_lw, KubeListerWatcher)
    assert jobs_lw._selector == "app.kubernetes.io/managed-by=zenflow"
    assert informers.jobs.store.index_keys(OWNER_INDEX, "team/x") == []
    assert informers.jobflows.store.index_keys(OWNER_INDEX, "team/x") == []
    cluster_wide = build_informers(api, namespace=None, registry=CollectorRegistry())
    lw = cluster_wide.jobs.reflector._lw
    assert isinstance(lw, KubeListerWatcher)
    assert lw.path == "/apis/batch/v1/jobs"


async def test_manager_elector_follows_settings(api: HttpTransport) -> None:
    settings = _settings(
        "--lease-name", "zf", "--leader-election-namespace", "ops",
        "--lease-duration", "20", "--renew-deadline", "12", "--retry-period", "3",
    )  # fmt: skip
    manager = build_manager(settings, api, registry=CollectorRegistry(), identity="pod_1")
    elector = manager.elector
    assert elector is not None
    assert (elector.lease_name, elector.namespace, elector.identity) == ("zf", "ops", "pod_1")
    assert (elector.lease_duration, elector.renew_deadline, elector.retry_period) == (20, 12, 3)
    no_le = build_manager(_settings("--no-leader-election"), api, registry=CollectorRegistry())
    assert no_le.elector is None


async def test_transport_pool_and_rate_limit_follow_settings(api: HttpTransport) -> None:
    assert api.pool_size == 128
    assert api.bucket is not None
    assert (api.bucket._bucket.qps, api.bucket._bucket.burst) == (50.0, 100)
    events = new_events_api_client(api, _settings("--event-qps", "7", "--event-burst", "9"))
    assert isinstance(events, HttpTransport)
    assert events is not api
    assert events.config is api.config
    assert events.pool_size == 8
    assert events.bucket is not None
    assert (events.bucket._bucket.qps, events.bucket._bucket.burst) == (7.0, 9)


async def test_sharded_informers_select_their_shard(api: HttpTransport) -> None:
    informers = build_informers(api, namespace="team", registry=CollectorRegistry(), shard="r1")
    selectors = [getattr(i.reflector._lw, "_selector", None) for i in informers.all()]
    assert selectors == [
        "workflow.zen.io/shard=r1",
        "workflow.zen.io/shard=r1",
        "app.kubernetes.io/managed-by=zenflow,workflow.zen.io/shard=r1",
        None,  # templates are never sharded
        None,
    ]


async def test_a_sharded_manager_holds_a_membership_lease(api: HttpTransport) -> None:
    settings = _settings("--sharding", "--lease-name", "zf", "--leader-election-namespace", "ops")
    manager = build_manager(settings, api, registry=CollectorRegistry(), identity="pod_1")
    elector = manager.elector
    assert elector is not None
    assert elector.lease_name.startswith("zf-shard-pod-1-")
    assert (elector.namespace, elector.identity) == ("ops", "pod_1")
    store = elector._store
    assert store._labels == {"workflow.zen.io/shard-lease": "zf"}  # type: ignore[attr-defined]
    assert store._rest.transport is not api  # type: ignore[attr-defined]  # its own connection
    await manager._cleanups[-1]()  # close the membership transport
