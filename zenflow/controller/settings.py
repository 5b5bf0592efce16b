"""Controller settings: flags, with ``ZENFLOW_*`` environment fallbacks, validated up front.

Resolution per setting: the flag if given, else ``ZENFLOW_<NAME>`` (e.g. ``ZENFLOW_WORKERS``),
else the default. The default address of the metrics and probes is 0.0.0.0 in a pod and
127.0.0.1 outside a cluster (a controller run from a laptop exposes nothing to the network).
Every invalid value is refused before anything starts, with a message naming the flag (and the
environment variable when the value came from there).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from zenflow.errors import ConfigError
from zenflow.logging import LEVELS
from zenflow.machinery.leaderelection import validate_timings

DEFAULT_LEADER_NAMESPACE = "zenflow-system"
DEFAULT_HTTP_HOST = "0.0.0.0"
LOCAL_HTTP_HOST = "127.0.0.1"
SERVICE_ACCOUNT_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

Seconds = Annotated[float, Field(gt=0, le=3600)]


class ControllerSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None  # watch scope; None = all namespaces
    leader_election: bool = True
    sharding: bool = False  # active-active replicas sharing the flows (controller.sharding)
    leader_election_namespace: str = DEFAULT_LEADER_NAMESPACE
    lease_name: str = "zenflow-controller"
    lease_duration: Seconds = 15.0
    renew_deadline: Seconds = 10.0
    retry_period: Seconds = 2.0
    workers: Annotated[int, Field(ge=1, le=256)] = 4
    qps: Annotated[float, Field(gt=0, le=100_000)] = 50.0
    burst: Annotated[int, Field(ge=1, le=1_000_000)] = 100
    event_qps: Annotated[float, Field(gt=0, le=100_000)] = 50.0
    event_burst: Annotated[int, Field(ge=1, le=1_000_000)] = 200
    http_host: str = DEFAULT_HTTP_HOST
    http_port: Annotated[int, Field(ge=0, le=65535)] = 8081
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "json"
    shutdown_timeout: Seconds = 25.0
    watch_stall_timeout: Seconds = 150.0
    notifications_configmap: str | None = None  # NAMESPACE/NAME of the default notifications

    @model_validator(mode="after")
    def _check(self) -> ControllerSettings:
        if self.namespace is not None and not _DNS_LABEL.match(self.namespace):
            raise ValueError(f"namespace: {self.namespace!r} is not a valid namespace name")
        if not _DNS_LABEL.match(self.leader_election_namespace):
            raise ValueError(
                f"leader_election_namespace: {self.leader_election_namespace!r} is not a valid "
                "namespace name"
            )
        if self.notifications_configmap is not None:
            ns, _, name = self.notifications_configmap.partition("/")
            if not _DNS_LABEL.match(ns) or not _DNS_SUBDOMAIN.match(name):
                raise ValueError(
                    "notifications_configmap: expected NAMESPACE/NAME, got "
                    f"{self.notifications_configmap!r}"
                )
        if len(self.lease_name) > 253 or not _DNS_SUBDOMAIN.match(self.lease_name):
            raise ValueError(f"lease_name: {self.lease_name!r} is not a valid object name")
        if self.sharding and not self.leader_election:
            raise ValueError(
                "sharding: replicas share the flows through Leases; it cannot run without "
                "leader election (drop --no-leader-election)"
            )
        if self.leader_election:
            try:
                validate_timings(
                    lease_duration=self.lease_duration,
                    renew_deadline=self.renew_deadline,
                    retry_period=self.retry_period,
                )
            except ConfigError as exc:
                raise ValueError(f"timings: {exc}") from exc
        return self


# (field, flag, type for argparse, help). Booleans are handled separately.
_FLAGS: tuple[tuple[str, str, type, str], ...] = (
    ("kubeconfig", "--kubeconfig", str, "kubeconfig file (default: $KUBECONFIG, else in-cluster)"),
    ("context", "--context", str, "kubeconfig context"),
    ("namespace", "--namespace", str, "watch only this namespace (default: all namespaces)"),
    (
        "leader_election_namespace",
        "--leader-election-namespace",
        str,
        "namespace of the Lease (default: the pod's namespace, else zenflow-system)",
    ),
    ("lease_name", "--lease-name", str, "name of the leader election Lease"),
    ("lease_duration", "--lease-duration", float, "seconds a standby waits before taking over"),
    ("renew_deadline", "--renew-deadline", float, "seconds the leader retries renewing"),
    ("retry_period", "--retry-period", float, "seconds between leader election attempts"),
    ("workers", "--workers", int, "concurrent reconciles per controller"),
    ("qps", "--qps", float, "client-side API request rate limit (requests per second)"),
    ("burst", "--burst", int, "client-side API request burst"),
    (
        "event_qps",
        "--event-qps",
        float,
        "rate limit of Event writes (requests per second; their own budget, apart from --qps)",
    ),
    ("event_burst", "--event-burst", int, "burst of Event writes"),
    (
        "http_host",
        "--http-host",
        str,
        "address of /healthz, /readyz and /metrics (default: 0.0.0.0 in a pod, else 127.0.0.1)",
    ),
    ("http_port", "--http-port", int, "port of /healthz, /readyz and /metrics (0: pick free)"),
    ("log_level", "--log-level", str, "debug, info, warning or error"),
    ("log_format", "--log-format", str, "json or console"),
    ("shutdown_timeout", "--shutdown-timeout", float, "seconds to drain reconciles on SIGTERM"),
    (
        "watch_stall_timeout",
        "--watch-stall-timeout",
        float,
        "seconds without any watch event (bookmarks included) before reconnecting",
    ),
    (
        "notifications_configmap",
        "--notifications-configmap",
        str,
        "NAMESPACE/NAME of a ConfigMap whose key 'notifications' lists the notifications of "
        "flows that declare none",
    ),
)
_BOOLS: tuple[str, ...] = ("leader_election", "sharding")
_FLAG_OF = {field: flag for field, flag, _, _ in _FLAGS} | {
    "leader_election": "--leader-election",
    "sharding": "--sharding",
}


def env_name(field: str) -> str:
    return f"ZENFLOW_{field.upper()}"


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the controller flags; defaults are resolved later (flag > env > default)."""
    for field, flag, _, help_text in _FLAGS:
        # Values are parsed as strings and validated by pydantic, so errors name the flag.
        parser.add_argument(flag, dest=field, default=None, metavar=field.upper(), help=help_text)
    parser.add_argument(
        "--leader-election",
        dest="leader_election",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="elect a leader among replicas through a Lease (default: on)",
    )
    parser.add_argument(
        "--sharding",
        dest="sharding",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="active-active replicas: each reconciles the flows a consistent-hash ring over the "
        "live members' Leases assigns it (label workflow.zen.io/shard; default: off)",
    )


def in_cluster(kubeconfig: str | None, *, env: Mapping[str, str]) -> bool:
    """Whether the controller connects with the pod's service account: no kubeconfig given or
    in ``$KUBECONFIG``, and ``$KUBERNETES_SERVICE_HOST`` set (as in every pod); the rule of
    ``zenflow.kube.client.load_configuration``."""
    return not (kubeconfig or env.get("KUBECONFIG")) and bool(env.get("KUBERNETES_SERVICE_HOST"))


def pod_namespace(path: Path = SERVICE_ACCOUNT_NAMESPACE_FILE) -> str | None:
    """The namespace of the pod we run in (service account mount or POD_NAMESPACE)."""
    from_env = os.environ.get("POD_NAMESPACE")
    if from_env:
        return from_env
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return text or None


def settings_from_args(
    args: argparse.Namespace,
    *,
    env: Mapping[str, str] | None = None,
    namespace_file: Path = SERVICE_ACCOUNT_NAMESPACE_FILE,
) -> ControllerSettings:
    """Resolve and validate; raises ConfigError naming the flag (or env var) at fault."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for field in [*(_f for _f, *_ in _FLAGS), *_BOOLS]:
        value = getattr(args, field, None)
        if value is not None:
            values[field] = value
            sources[field] = _FLAG_OF[field]
            continue
        raw = env.get(env_name(field))
        if raw is not None and raw != "":
            values[field] = _parse_bool(raw, env_name(field)) if field in _BOOLS else raw
            sources[field] = f"{_FLAG_OF[field]} (from ${env_name(field)})"
    if "http_host" not in values:
        outside = not in_cluster(values.get("kubeconfig"), env=env)
        values["http_host"] = LOCAL_HTTP_HOST if outside else DEFAULT_HTTP_HOST
    if "leader_election_namespace" not in values:
        values["leader_election_namespace"] = (
            pod_namespace(namespace_file) or DEFAULT_LEADER_NAMESPACE
        )
    try:
        return ControllerSettings(**values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, sources)) from None


def _parse_bool(raw: str, name: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"${name}: expected true or false, got {raw!r}")


def _describe(exc: ValidationError, sources: Mapping[str, str]) -> str:
    messages = []
    for error in exc.errors():
        loc = error.get("loc") or ()
        message = str(error.get("msg", "invalid value"))
        field = str(loc[0]) if loc else ""
        if not field and ":" in message:
            # Model-level check: the message starts with "field: ...".
            field, message = (
                part.strip() for part in message.removeprefix("Value error, ").split(":", 1)
            )
        flag = sources.get(field) or _FLAG_OF.get(field, field)
        got = error.get("input")
        suffix = f" (got {got!r})" if loc and not isinstance(got, dict) else ""
        messages.append(f"{flag}: {message}{suffix}")
    return "; ".join(messages)


__all__ = [
    "DEFAULT_LEADER_NAMESPACE",
    "LEVELS",
    "ControllerSettings",
    "add_settings_arguments",
    "env_name",
    "pod_namespace",
    "settings_from_args",
]
