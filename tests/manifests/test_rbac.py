"""The RBAC in manifests/ grants the controller exactly what it uses, checked on the real apiserver.

Aspects: the ServiceAccount's own bound token (TokenRequest API) is used, so the checks go through
authentication and the RBAC authorizer as the running controller would; every verb the controller
needs is allowed (table below, kept in sync with the code's API calls); neighbours of each grant
are denied (other secrets, other leases, other webhook configurations, nodes, pods writes, RBAC
escalation); the aggregated view/edit roles reach ordinary users through the built-in roles (a
denial counts only once the same binding already grants "get", so it is not the aggregation's lag).
"""

from __future__ import annotations

import pytest

from tests.manifests.helpers import NAMESPACE, SERVICE_ACCOUNT, install_identity
from tests.support.wait import eventually_sync
from zenflow.envtest.controlplane import ControlPlane

FLOWS = "jobflows.workflow.zen.io"
CRONS = "cronjobflows.workflow.zen.io"
TEMPLATES = "jobflowtemplates.workflow.zen.io"
CLUSTER_TEMPLATES = "clusterjobflowtemplates.workflow.zen.io"
ANY_NS = "team-a"  # cluster-wide grants hold in any namespace, existing or not

# (verb, resource, namespace or "" for cluster scope, extra kubectl args)
ALLOWED: list[tuple[str, str, str, tuple[str, ...]]] = [
    *[(v, FLOWS, ANY_NS, ()) for v in ("get", "list", "watch", "create", "patch", "delete")],
    *[(v, r, ANY_NS, ("--subresource=status",)) for r in (FLOWS, CRONS) for v in ("get", "patch")],
    *[("update", r, ANY_NS, ("--subresource=finalizers",)) for r in (FLOWS, CRONS)],
    *[(v, CRONS, ANY_NS, ()) for v in ("get", "list", "watch")],
    *[(v, TEMPLATES, ANY_NS, ()) for v in ("get", "list", "watch")],
    *[(v, CLUSTER_TEMPLATES, "", ()) for v in ("get", "list", "watch")],
    *[(v, "jobs.batch", ANY_NS, ()) for v in ("get", "list", "watch", "create", "delete")],
    *[(v, "pods", ANY_NS, ()) for v in ("get", "list", "watch")],
    *[
        (v, r, ANY_NS, ())
        for r in ("persistentvolumeclaims", "configmaps")
        for v in ("get", "create")
    ],
    *[(v, "events", ns, ()) for v in ("create", "patch") for ns in (ANY_NS, NAMESPACE)],
    *[(v, "validatingwebhookconfigurations/zenflow-webhook", "", ()) for v in ("get", "patch")],
    *[
        (v, "leases.coordination.k8s.io/zenflow-controller", NAMESPACE, ())
        for v in ("get", "update")
    ],
    ("create", "leases.coordination.k8s.io", NAMESPACE, ()),
    *[(v, "secrets/zenflow-webhook-tls", NAMESPACE, ()) for v in ("get", "update")],
    ("create", "secrets", NAMESPACE, ()),
]

DENIED: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("delete", "nodes", "", ()),
    ("get", "nodes", "", ()),
    ("get", "secrets", ANY_NS, ()),
    ("list", "secrets", NAMESPACE, ()),
    ("get", "secrets/other", NAMESPACE, ()),
    ("delete", "secrets/zenflow-webhook-tls", NAMESPACE, ()),
    ("create", "secrets", ANY_NS, ()),
    ("update", "leases.coordination.k8s.io/other", NAMESPACE, ()),
    ("create", "leases.coordination.k8s.io", ANY_NS, ()),
    ("delete", "leases.coordination.k8s.io/zenflow-controller", NAMESPACE, ()),
    ("patch", "validatingwebhookconfigurations/other", "", ()),
    ("list", "validatingwebhookconfigurations", "", ()),
    ("delete", "validatingwebhookconfigurations/zenflow-webhook", "", ()),
    ("create", "mutatingwebhookconfigurations", "", ()),
    ("update", FLOWS, ANY_NS, ()),
    ("deletecollection", FLOWS, ANY_NS, ()),
    ("update", FLOWS, ANY_NS, ("--subresource=status",)),
    ("create", CRONS, ANY_NS, ()),
    *[(v, TEMPLATES, ANY_NS, ()) for v in ("create", "patch", "delete")],
    *[(v, CLUSTER_TEMPLATES, "", ()) for v in ("create", "patch", "delete")],
    ("delete", CRONS, ANY_NS, ()),
    ("patch", CRONS, ANY_NS, ()),
    ("update", "jobs.batch", ANY_NS, ()),
    ("patch", "jobs.batch", ANY_NS, ()),
    ("create", "pods", ANY_NS, ()),
    ("delete", "pods", ANY_NS, ()),
    ("create", "pods", ANY_NS, ("--subresource=exec",)),
    ("get", "pods", ANY_NS, ("--subresource=log",)),
    ("list", "configmaps", ANY_NS, ()),
    ("delete", "configmaps", ANY_NS, ()),
    ("update", "configmaps", ANY_NS, ()),
    ("delete", "persistentvolumeclaims", ANY_NS, ()),
    ("delete", "events", ANY_NS, ()),
    ("create", "events.events.k8s.io", ANY_NS, ()),
    ("create", "deployments.apps", NAMESPACE, ()),
    ("create", "clusterroles.rbac.authorization.k8s.io", "", ()),
    ("bind", "clusterroles.rbac.authorization.k8s.io", "", ()),
    ("escalate", "roles.rbac.authorization.k8s.io", NAMESPACE, ()),
    ("impersonate", "users", "", ()),
    ("create", "serviceaccounts/token", NAMESPACE, ()),
    ("get", "customresourcedefinitions.apiextensions.k8s.io", "", ()),
]


@pytest.fixture(scope="module")
def token(control_plane: ControlPlane) -> str:
    install_identity(control_plane)
    return control_plane.create_token(namespace=NAMESPACE, service_account=SERVICE_ACCOUNT)


def can_i(
    control_plane: ControlPlane,
    token: str,
    verb: str,
    resource: str,
    namespace: str,
    extra: tuple[str, ...],
) -> tuple[bool, str]:
    scope = ["-n", namespace] if namespace else []
    out = control_plane.kubectl(
        "auth", "can-i", verb, resource, *scope, *extra, as_token=token, check=False
    )
    # exit 0 = yes, 1 = no; anything else (or other output) is an error in the check itself
    assert out.returncode in (0, 1), out.stderr
    return out.returncode == 0, out.stdout.strip()


def _id(case: tuple[str, str, str, tuple[str, ...]]) -> str:
    verb, resource, namespace, extra = case
    return " ".join(
        x for x in (verb, resource, *extra, f"-n {namespace}" if namespace else "") if x
    )


@pytest.mark.parametrize("case", [pytest.param(c, id=_id(c)) for c in ALLOWED])
def test_allowed(
    control_plane: ControlPlane, token: str, case: tuple[str, str, str, tuple[str, ...]]
) -> None:
    allowed, said = can_i(control_plane, token, *case)
    assert allowed, f"{_id(case)}: {said}"


@pytest.mark.parametrize("case", [pytest.param(c, id=_id(c)) for c in DENIED])
def test_denied(
    control_plane: ControlPlane, token: str, case: tuple[str, str, str, tuple[str, ...]]
) -> None:
    allowed, said = can_i(control_plane, token, *case)
    assert not allowed, f"{_id(case)}: {said}"


def test_whoami_is_the_service_account(control_plane: ControlPlane, token: str) -> None:
    out = control_plane.kubectl(
        "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}", as_token=token
    )
    assert out.stdout == f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"


@pytest.mark.parametrize(
    ("role", "verb", "allowed"),
    [
        pytest.param("view", "list", True, id="view-list"),
        pytest.param("view", "create", False, id="view-create"),
        pytest.param("edit", "create", True, id="edit-create"),
        pytest.param("edit", "approve", True, id="edit-approve"),
        pytest.param("view", "approve", False, id="view-approve"),
        pytest.param("admin", "delete", True, id="admin-delete"),
    ],
)
def test_aggregated_roles_reach_users(
    control_plane: ControlPlane, token: str, namespace: str, role: str, verb: str, allowed: bool
) -> None:
    user = f"user-{role}"
    control_plane.kubectl(
        "create",
        "rolebinding",
        f"{user}-binding",
        f"--clusterrole={role}",
        f"--user={user}",
        "-n",
        namespace,
    )

    def can(what: str) -> bool:
        out = control_plane.kubectl(
            "auth", "can-i", what, FLOWS, "-n", namespace, f"--as={user}", check=False
        )
        assert out.returncode in (0, 1), out.stderr
        return out.returncode == 0

    # The binding and the aggregation (done by the controller-manager) take effect after a
    # while. A "no" counts only once the role already grants what each of them grants ("get"),
    # so that it is the role's answer and not that lag.
    eventually_sync(lambda: can("get"), what=f"{role} bound with zenflow's rules", within=10)
    if allowed:
        eventually_sync(lambda: can(verb), what=f"{role} may {verb}", within=10)
    else:
        assert not can(verb), f"{role} may {verb}"


@pytest.mark.parametrize(
    ("role", "verb", "allowed"),
    [
        pytest.param("view", "list", True, id="view-list"),
        pytest.param("view", "create", False, id="view-create"),
        pytest.param("edit", "create", True, id="edit-create"),
        pytest.param("admin", "delete", True, id="admin-delete"),
    ],
)
def test_aggregated_roles_cover_templates(
    control_plane: ControlPlane, token: str, namespace: str, role: str, verb: str, allowed: bool
) -> None:
    user = f"tpl-{role}"
    control_plane.kubectl(
        "create", "rolebinding", f"{user}-binding", f"--clusterrole={role}", f"--user={user}",
        "-n", namespace,
    )  # fmt: skip

    def can(what: str) -> bool:
        out = control_plane.kubectl(
            "auth", "can-i", what, TEMPLATES, "-n", namespace, f"--as={user}", check=False
        )
        assert out.returncode in (0, 1), out.stderr
        return out.returncode == 0

    eventually_sync(lambda: can("get"), what=f"{role} bound with zenflow's rules", within=10)
    if allowed:
        eventually_sync(lambda: can(verb), what=f"{role} may {verb}", within=10)
    else:
        assert not can(verb), f"{role} may {verb}"
