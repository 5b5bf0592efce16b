"""Create kubernetes-asyncio API clients from a kubeconfig file or the in-cluster service
account, for the callers that use its generated API classes (the kubectl plugin, the SDK, the web
UI, the webhook's certificate store, tests). The controller process does not import this module:
it connects with ``zenflow.kube.kubeconfig`` and ``zenflow.kube.connection``."""

from __future__ import annotations

import copy
import os

from kubernetes_asyncio import client, config
from kubernetes_asyncio.config.config_exception import ConfigException

from zenflow.errors import ConfigError
from zenflow.kube.transport import DEFAULT_REQUEST_TIMEOUT_S

__all__ = ["DEFAULT_REQUEST_TIMEOUT_S", "load_configuration", "new_api_client", "skip_proxy_lookup"]


async def load_configuration(
    kubeconfig: str | None = None, *, context: str | None = None
) -> client.Configuration:
    """Resolve the connection: ``kubeconfig`` argument, else ``$KUBECONFIG``, else in-cluster,
    else ``~/.kube/config``. Raises ConfigError naming what was tried."""
    cfg = client.Configuration()
    path = _kubeconfig_path(kubeconfig)
    try:
        if path is None:
            config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
        else:
            await config.load_kube_config(
                config_file=path, context=context, client_configuration=cfg
            )
    except ConfigException as exc:
        raise ConfigError(f"invalid kubeconfig {path or '(in-cluster)'}: {exc}") from exc
    return cfg


def _kubeconfig_path(explicit: str | None) -> str | None:
    """The kubeconfig file to use, or None for in-cluster configuration."""
    path = explicit or os.environ.get("KUBECONFIG")
    if path:
        if not os.path.exists(path):
            raise ConfigError(f"kubeconfig {path!r} does not exist")
        return path
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return None
    default = os.path.expanduser("~/.kube/config")
    if not os.path.exists(default):
        raise ConfigError(
            "no cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a pod"
        )
    return default


def new_api_client(cfg: client.Configuration, *, pool_size: int = 64) -> client.ApiClient:
    """An ApiClient whose connection pool is sized for many concurrent watches and requests.

    The caller owns it and must ``await api.close()``.
    """
    cfg = copy.copy(cfg)
    cfg.connection_pool_maxsize = pool_size
    api = client.ApiClient(configuration=cfg)
    skip_proxy_lookup(api)
    return api


_PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def skip_proxy_lookup(api: client.ApiClient) -> None:
    """Turn off aiohttp's per-request proxy/.netrc lookup when no proxy is configured.

    kubernetes-asyncio opens its session with ``trust_env=True``, which makes aiohttp read
    ``~/.netrc`` and the proxy variables in a worker thread on every request: milliseconds of
    latency per API call. With no proxy variable set that lookup can only find nothing.
    """
    if any(os.environ.get(var) for var in _PROXY_VARS):
        return
    session = api.rest_client.pool_manager
    session._trust_env = False
