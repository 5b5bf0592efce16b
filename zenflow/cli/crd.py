"""``zenflow crd``: write the CustomResourceDefinitions generated from the API models, or check
that the committed ones are up to date (``--check``).

``--refresh-kube-schemas`` first takes the Kubernetes schemas the CRDs embed
(``zenflow.api.kubeschemas``) from a control plane of the pinned release: a throwaway local one
(``zenflow.envtest``), or the cluster of ``--kubeconfig``, which must serve that release. With
``--check`` it writes nothing and reports committed schema files that differ.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from zenflow.api import kubeschemas
from zenflow.api.crd import all_crds, render_yaml
from zenflow.envtest.binaries import K8S_VERSION, ensure_binaries
from zenflow.envtest.controlplane import ControlPlane, KubectlError
from zenflow.errors import ZenflowError

Fetch = Callable[[str], Mapping[str, Any]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("crds"),
        help="directory for the CRD YAML files (default: crds)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the files in --output-dir differ from the generated",
    )
    parser.add_argument(
        "--refresh-kube-schemas",
        action="store_true",
        help="first re-take the embedded Kubernetes schemas from a control plane of the pinned "
        f"release ({K8S_VERSION}): a local one started for this, or --kubeconfig's",
    )
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=None,
        help="with --refresh-kube-schemas: read the schemas from this cluster instead",
    )


def run(args: argparse.Namespace) -> int:
    stale: list[str] = []
    if args.refresh_kube_schemas:
        try:
            with _fetcher(args.kubeconfig) as fetch:
                stale += _refresh(fetch, check=args.check)
        except ZenflowError as exc:
            print(f"zenflow crd: {exc}", file=sys.stderr)
            return 1
    out_dir: Path = args.output_dir
    for file_name, crd in all_crds().items():
        text = render_yaml(crd)
        target = out_dir / file_name
        if args.check:
            try:
                current = target.read_text(encoding="utf-8")
            except OSError:
                current = None
            if current != text:
                stale.append(f"{target}: out of date; run `zenflow crd --output-dir {out_dir}`")
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    for line in stale:
        print(line, file=sys.stderr)
    return 1 if stale else 0


def _refresh(fetch: Fetch, *, check: bool) -> list[str]:
    """Write (or with ``check`` compare) the kube schema files; return what is stale."""
    stale: list[str] = []
    for file_name, text in kubeschemas.snapshot(fetch).items():
        target = kubeschemas.directory() / file_name
        version = json.loads(text)["kubernetesVersion"]
        if version != K8S_VERSION:
            raise ZenflowError(f"the control plane serves {version}, the pinned one {K8S_VERSION}")
        if check:
            if target.read_text(encoding="utf-8") != text:
                stale.append(f"{target}: out of date; run `zenflow crd --refresh-kube-schemas`")
            continue
        target.write_text(text, encoding="utf-8")
        print(f"wrote {_shown(target)}")
    kubeschemas.definitions.cache_clear()
    return stale


def _shown(path: Path) -> Path:
    """``path`` relative to the working directory when it is below it (the source tree)."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


@contextmanager
def _fetcher(kubeconfig: Path | None) -> Iterator[Fetch]:
    """GET through kubectl: against ``kubeconfig``, else a local control plane started here."""
    if kubeconfig is not None:
        kubectl = str(ensure_binaries().kubectl)
        yield _kubectl_fetch(kubectl, "--kubeconfig", str(kubeconfig))
        return
    print(f"starting a local {K8S_VERSION} control plane to read its OpenAPI", file=sys.stderr)
    with ControlPlane(node_agent=False) as plane:
        yield lambda path: json.loads(plane.kubectl("get", "--raw", path).stdout)


def _kubectl_fetch(*argv: str) -> Fetch:
    def fetch(path: str) -> Mapping[str, Any]:
        result = subprocess.run(
            [*argv, "get", "--raw", path], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise KubectlError(
                f"kubectl get --raw {path} failed: {result.stderr.strip()}",
                returncode=result.returncode,
                stdout=result.stdout,
                stderr=result.stderr,
            )
        body: Mapping[str, Any] = json.loads(result.stdout)
        return body

    return fetch
