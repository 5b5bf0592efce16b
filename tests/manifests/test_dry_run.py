"""Every object in manifests/ and crds/ passes a server-side dry-run apply on the real apiserver.

Aspects: the CRDs, then all manifests (kubectl apply -f and -k), are accepted by the apiserver's
own validation without being persisted (the namespace they live in is created for real first,
since a dry-run cannot create objects inside a namespace that does not exist yet); the
Deployment raises no Pod Security warning in its restricted-labelled namespace.
"""

from __future__ import annotations

from tests.manifests.helpers import CRDS_DIR, MANIFESTS_DIR, load_documents, manifest_files
from zenflow.envtest.controlplane import ControlPlane


def test_crds_dry_run(control_plane: ControlPlane) -> None:
    files = sorted(CRDS_DIR.glob("*.yaml"))
    assert files, "crds/ holds no CRD"
    args = [a for f in files for a in ("-f", str(f))]
    out = control_plane.kubectl(
        "apply", "--server-side", "--dry-run=server", "--force-conflicts", *args
    )
    assert "customresourcedefinition" in out.stdout


def test_manifests_dry_run(control_plane: ControlPlane) -> None:
    control_plane.kubectl("apply", "-f", str(MANIFESTS_DIR / "namespace.yaml"))
    out = control_plane.kubectl("apply", "--dry-run=server", "-f", str(MANIFESTS_DIR))
    applied = [line for line in out.stdout.splitlines() if "(server dry run)" in line]
    expected = len(load_documents(manifest_files()))
    assert len(applied) == expected, out.stdout
    assert "Warning" not in out.stderr, out.stderr


def test_kustomization_dry_run(control_plane: ControlPlane) -> None:
    control_plane.kubectl("apply", "-f", str(MANIFESTS_DIR / "namespace.yaml"))
    out = control_plane.kubectl("apply", "--dry-run=server", "-k", str(MANIFESTS_DIR))
    assert "deployment.apps/zenflow-controller" in out.stdout
    assert "validatingwebhookconfiguration.admissionregistration.k8s.io/zenflow-webhook" in (
        out.stdout
    )
