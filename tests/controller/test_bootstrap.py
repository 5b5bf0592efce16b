"""Process wiring from settings (unit): zenflow's three informers, the Job informer label-selected
to zenflow's Jobs (MACHINERY.md #16) and indexed by owning JobFlow, JobFlows by owning CronJobFlow;
the manager gets an elector with the configured Lease and timings (none without leader
election); the throttled client's pool is sized for the watches and workers."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import pytest
from kubernetes_asyncio import client
from prometheus_client import CollectorRegistry

from zenflow.controller.bootstrap import build_informers, build_manager, new_controller_api_client
from zenflow.controller.settings import (
    ControllerSettings,
    add_settings_arguments,
    settings_from_args,
)
from zenflow.kube.listwatch import KubeListerWatcher
from zenflow.machinery.informer import OWNER_INDEX


def _settings(*argv: str) -> ControllerSettings:
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser)
    return settings_from_args(parser.parse_args(list(argv)), env={})


@pytest.fixture
async def api() -> AsyncIterator[client.ApiClient]:
    cfg = client.Configuration(host="https://127.0.0.1:1")
    api = new_controller_api_client(cfg, _settings("--workers", "32"), registry=CollectorRegistry())
    try:
        yield api
    finally:
        await api.close()


async def test_informers(api: client.ApiClient) -> None:
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


async def test_manager_elector_follows_settings(api: client.ApiClient) -> None:
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


async def test_client_pool_is_sized_for_workers(api: client.ApiClient) -> None:
    assert api.configuration.connection_pool_maxsize == 128
