"""API clients: the per-request proxy/.netrc lookup is skipped only when no proxy is set, for
plain clients and for the controller's throttled one."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from zenflow.kube.client import new_api_client
from zenflow.kube.throttle import ThrottledApiClient

PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def _clients(cfg: client.Configuration) -> list[client.ApiClient]:
    return [new_api_client(cfg), ThrottledApiClient(cfg, qps=10, burst=10)]


@pytest.fixture
def cfg(monkeypatch: pytest.MonkeyPatch) -> client.Configuration:
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    conf = client.Configuration()
    conf.host = "https://127.0.0.1:1"
    return conf


async def test_no_proxy_means_no_environment_lookup(cfg: client.Configuration) -> None:
    for api in _clients(cfg):
        try:
            assert api.rest_client.pool_manager.trust_env is False
        finally:
            await api.close()


async def test_a_configured_proxy_is_still_honoured(
    cfg: client.Configuration, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    for api in _clients(cfg):
        try:
            assert api.rest_client.pool_manager.trust_env is True
        finally:
            await api.close()
