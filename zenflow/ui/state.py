"""What every route of one UI server shares: its options, the cluster cache, the views, the
user's API connection and the security guard. Stored on the aiohttp app under ``STATE``."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from zenflow.kube.rest import Rest
from zenflow.ui.security import Guard
from zenflow.ui.views import FlowViews
from zenflow.ui.watch import ClusterWatch


@dataclass(frozen=True, slots=True)
class UiOptions:
    """How ``zenflow ui`` runs. ``namespace`` None watches all namespaces (``-A``);
    ``read_only`` turns every action off (the in-cluster Deployment's default);
    ``login_token`` None serves without the login step (only behind port-forward)."""

    namespace: str | None
    host: str = "127.0.0.1"
    port: int = 8080
    read_only: bool = False
    login_token: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    context: str | None = None


@dataclass
class UiState:
    options: UiOptions
    watch: ClusterWatch
    rest: Rest
    guard: Guard
    views: FlowViews = field(default_factory=FlowViews)


STATE = web.AppKey("zenflow_ui_state", UiState)
