"""Helpers for tests that use zenflow's deployable manifests on the local control plane.

``service_account_kubeconfig`` is the one other tests import: it installs the controller's
identity exactly as ``manifests/`` defines it (namespace, ServiceAccount, RBAC) and returns a
kubeconfig that authenticates as that ServiceAccount with a bound token (TokenRequest API), so a
controller run with it has the manifests' permissions and nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from zenflow.envtest.controlplane import ControlPlane

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS_DIR = ROOT / "manifests"
CRDS_DIR = ROOT / "crds"
NAMESPACE = "zenflow-system"
SERVICE_ACCOUNT = "zenflow-controller"
# The objects that give the controller its identity. Applying them for real is safe on a shared
# control plane; the Deployment (no image can run here) and the ValidatingWebhookConfiguration
# (it would send every JobFlow write to a Service with no endpoints) are only ever dry-run.
IDENTITY_FILES = (
    "namespace.yaml",
    "serviceaccount.yaml",
    "rbac-cluster.yaml",
    "rbac-namespace.yaml",
    "rbac-aggregated.yaml",
    "rbac-webhook.yaml",
)


def load_documents(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Every non-empty YAML document in ``paths``, in order."""
    docs: list[dict[str, Any]] = []
    for path in paths:
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def manifest_files(directory: Path = MANIFESTS_DIR) -> list[Path]:
    return sorted(directory.glob("*.yaml"))


def find(docs: Iterable[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for doc in docs:
        if doc.get("kind") == kind and doc.get("metadata", {}).get("name") == name:
            return doc
    raise LookupError(f"no {kind} {name!r} in the manifests")


def install_identity(control_plane: ControlPlane) -> None:
    """Apply the namespace, ServiceAccount and RBAC of ``manifests/`` (idempotent)."""
    args: list[str] = []
    for name in IDENTITY_FILES:
        args += ["-f", str(MANIFESTS_DIR / name)]
    control_plane.kubectl("apply", *args)


def service_account_kubeconfig(
    control_plane: ControlPlane,
    namespace: str = NAMESPACE,
    name: str = SERVICE_ACCOUNT,
    *,
    duration: str = "2h",
) -> Path:
    """A kubeconfig authenticating as the ServiceAccount, after installing its RBAC."""
    install_identity(control_plane)
    token = control_plane.create_token(namespace=namespace, service_account=name, duration=duration)
    path = control_plane.work_dir / f"{namespace}-{name}.kubeconfig"
    return control_plane.write_kubeconfig(path, token=token, user=f"{namespace}-{name}")
