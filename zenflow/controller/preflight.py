"""What ``zenflow controller`` checks before it starts, so that a controller run against a
cluster it cannot work in (typically from a laptop, outside the cluster) stops at once with one
message naming the fix, instead of retrying forever or ending in a traceback.

Checks, each turned into a ``Problem`` naming the flags or the command that fix it:

* its ports (metrics/probes, the webhook) are free on their addresses (``check_ports``, before
  anything else; no cluster needed);
* zenflow's CRDs are served (``jobflows`` and ``cronjobflows`` of ``workflow.zen.io``);
* the Lease can be created in the leader election namespace (a dry-run create: the namespace
  exists and RBAC allows it), when leader election is on;
* the webhook's certificate Secret can be created in its namespace (a dry-run create), when the
  webhook runs in the process and manages its own certificate.

Invariants: the cluster checks run concurrently and each request is bounded by
``REQUEST_TIMEOUT_S``, so ``check_cluster`` returns well within ``PREFLIGHT_BUDGET_S``; a check
that cannot tell (the API server answered something unexpected) passes, since the controller's
own retries then report it; nothing is created (dry runs only).
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from zenflow.api.constants import CRONJOBFLOW_PLURAL, GROUP, JOBFLOW_PLURAL, VERSION
from zenflow.controller.settings import ControllerSettings
from zenflow.errors import ConfigError, KubeError
from zenflow.kube.rest import Rest, decode_object
from zenflow.kube.transport import Reply
from zenflow.logging import get_logger

log = get_logger(__name__)

REQUEST_TIMEOUT_S: Final = 3.0
PREFLIGHT_BUDGET_S: Final = 4.0
INSTALL: Final = "kubectl apply -k manifests/"


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong and how to fix it, as one paragraph."""

    text: str


@dataclass(frozen=True, slots=True)
class Port:
    """A port the process will listen on, and the flag that sets it."""

    host: str
    port: int
    what: str
    flag: str


class PreflightError(ConfigError):
    """The controller cannot run as configured; the message lists every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            text = self.problems[0].text
        else:
            text = "cannot start:\n" + "\n".join(f"  - {p.text}" for p in self.problems)
        super().__init__(text)


def check_ports(ports: Sequence[Port]) -> list[Problem]:
    """Each port (0 picks a free one: nothing to check) is free on its address."""
    problems: list[Problem] = []
    seen: dict[int, Port] = {}
    for port in ports:
        if port.port == 0:
            continue
        if port.port in seen:
            other = seen[port.port]
            problems.append(
                Problem(f"{other.flag} and {port.flag} are both {port.port}: give them two ports")
            )
            continue
        seen[port.port] = port
        problem = _bind_problem(port)
        if problem is not None:
            problems.append(problem)
    return problems


def _bind_problem(port: Port) -> Problem | None:
    family = socket.AF_INET6 if ":" in port.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As the servers bind: a port in TIME_WAIT is usable, one someone listens on is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((port.host, port.port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                why = "is already in use (another zenflow controller?)"
            elif exc.errno == errno.EACCES:
                why = "needs privileges to listen on"
            else:
                why = f"cannot be listened on ({exc.strerror or exc})"
            return Problem(
                f"port {port.port} on {port.host} ({port.what}) {why}: pass {port.flag} "
                "with a free port (0 picks one)"
            )
    return None


def port_problem_of(exc: OSError, ports: Sequence[Port]) -> Problem:
    """The problem to report when listening failed after all (a race with another process)."""
    named = ", ".join(f"{p.flag} {p.port}" for p in ports if p.port)
    return Problem(f"cannot listen: {exc.strerror or exc}; pass free ports ({named})")


async def check_cluster(
    rest: Rest, settings: ControllerSettings, *, webhook_secret: tuple[str, str] | None
) -> list[Problem]:
    """The CRDs, the Lease namespace and the webhook Secret namespace (see module doc);
    ``webhook_secret`` is the Secret's (namespace, name) when the webhook manages one."""
    checks = [_crds(rest)]
    if settings.leader_election:
        checks.append(_lease(rest, settings))
    if webhook_secret is not None:
        checks.append(_secret(rest, *webhook_secret))
    try:
        async with asyncio.timeout(PREFLIGHT_BUDGET_S):
            found = await asyncio.gather(*checks)
    except TimeoutError:
        log.warning("preflight_timed_out", budget_s=PREFLIGHT_BUDGET_S)
        return []
    return [problem for problem in found if problem is not None]


async def _send(rest: Rest, method: str, path: str, **options: Any) -> Reply | None:
    """The answer, or None when the request itself failed (the check then passes)."""
    try:
        return await rest.send(method, path, timeout_s=REQUEST_TIMEOUT_S, **options)
    except KubeError as exc:
        log.warning("preflight_request_failed", method=method, path=path, error=str(exc))
        return None


async def _crds(rest: Rest) -> Problem | None:
    reply = await _send(rest, "GET", f"/apis/{GROUP}/{VERSION}")
    if reply is None or reply.status not in (200, 404):
        return None
    served: set[str] = set()
    if reply.status == 200:
        doc = _json(reply)
        if doc is None:
            return None
        served = {str(r.get("name")) for r in doc.get("resources") or [] if isinstance(r, dict)}
    missing = [p for p in (JOBFLOW_PLURAL, CRONJOBFLOW_PLURAL) if p not in served]
    if not missing:
        return None
    kinds = " and ".join(f"{p}.{GROUP}" for p in missing)
    return Problem(
        f"zenflow's CRDs are not installed in this cluster ({kinds} not served): install them "
        f"with `{INSTALL}` (or `kubectl apply -f crds/` for the CRDs alone)"
    )


async def _lease(rest: Rest, settings: ControllerSettings) -> Problem | None:
    namespace = settings.leader_election_namespace
    body = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": settings.lease_name, "namespace": namespace},
        "spec": {},
    }
    reply = await _send(
        rest,
        "POST",
        f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases",
        query=[("dryRun", "All")],
        body=body,
    )
    fixes = (
        "choose an existing one with --leader-election-namespace NS, or run a single replica "
        "without leader election: --no-leader-election"
    )
    return _create_problem(
        reply, what="the leader election Lease", namespace=namespace, fixes=fixes
    )


async def _secret(rest: Rest, namespace: str, name: str) -> Problem | None:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "", "tls.key": ""},
    }
    reply = await _send(
        rest,
        "POST",
        f"/api/v1/namespaces/{namespace}/secrets",
        query=[("dryRun", "All")],
        body=body,
    )
    fixes = (
        "choose an existing one with --webhook-secret-namespace NS, or serve no webhook in this "
        "process: --no-webhook (the CRD's own schema still validates flows)"
    )
    return _create_problem(
        reply, what="the webhook's certificate Secret", namespace=namespace, fixes=fixes
    )


def _create_problem(
    reply: Reply | None, *, what: str, namespace: str, fixes: str
) -> Problem | None:
    """The problem a dry-run create answered with (AlreadyExists is fine)."""
    if reply is None or 200 <= reply.status <= 299 or reply.status == 409:
        return None
    if reply.status == 404:
        return Problem(
            f'the namespace "{namespace}" of {what} does not exist: create it (`kubectl create '
            f"namespace {namespace}`, or `{INSTALL}`), {fixes}"
        )
    if reply.status == 403:
        return Problem(
            f'cannot create {what} in namespace "{namespace}": {_message(reply)}; grant the '
            f"controller the RBAC of manifests/ (`{INSTALL}`), {fixes}"
        )
    return None


def _json(reply: Reply) -> dict[str, Any] | None:
    try:
        return decode_object(reply.body, status=reply.status, what="preflight")
    except KubeError:
        return None


def _message(reply: Reply) -> str:
    doc = _json(reply)
    return str((doc or {}).get("message") or reply.reason)
