"""Kubernetes' own OpenAPI v3 schemas of the types zenflow embeds in its CRDs, as the API server
of the pinned Kubernetes release serves them.

One JSON file per served document (``batch_v1.json`` from ``/openapi/v3/apis/batch/v1``,
``core_v1.json`` from ``/openapi/v3/api/v1``), each holding the ``kubernetesVersion`` it was
taken from, the ``roots`` zenflow needs and ``schemas``: every definition reachable from the
roots through ``$ref``, byte for byte as served. ``zenflow crd --refresh-kube-schemas`` rewrites
the files from a running control plane; ``zenflow.api.kubestructural`` turns the definitions into
structural CRD schemas.

Invariants: every ``$ref`` inside a file names a definition of that file; a definition name
found in two files has the same schema in both; ``trim`` of a served document is a pure
function of the document and the roots, so the committed files can be checked against a live
API server.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

Schema = dict[str, Any]

_REF_PREFIX: Final = "#/components/schemas/"


@dataclass(frozen=True)
class KubeDocument:
    """One OpenAPI v3 document of the API server and the definitions zenflow takes from it."""

    file: str
    path: str
    roots: tuple[str, ...]


DOCUMENTS: Final = (
    KubeDocument(
        file="batch_v1.json",
        path="/openapi/v3/apis/batch/v1",
        roots=("io.k8s.api.batch.v1.JobTemplateSpec", "io.k8s.api.batch.v1.PodFailurePolicy"),
    ),
    KubeDocument(
        file="core_v1.json",
        path="/openapi/v3/api/v1",
        roots=(
            "io.k8s.api.core.v1.ConfigMap",
            "io.k8s.api.core.v1.EnvVar",
            "io.k8s.api.core.v1.PersistentVolumeClaim",
            "io.k8s.api.core.v1.ResourceRequirements",
        ),
    ),
)


class KubeSchemaError(ValueError):
    """A served document lacks a definition zenflow needs, or a committed file is inconsistent."""


def ref_name(ref: str) -> str:
    """``#/components/schemas/io.k8s.api.core.v1.PodSpec`` → ``io.k8s.api.core.v1.PodSpec``."""
    if not ref.startswith(_REF_PREFIX):
        raise KubeSchemaError(f"unsupported $ref {ref!r}")
    return ref[len(_REF_PREFIX) :]


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield ref_name(value)
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def trim(document: Mapping[str, Any], roots: Iterable[str]) -> dict[str, Schema]:
    """The definitions of an OpenAPI v3 ``document`` reachable from ``roots``, sorted by name."""
    served: Mapping[str, Schema] = document.get("components", {}).get("schemas", {})
    needed: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        if name not in served:
            raise KubeSchemaError(f"the served document has no definition {name!r}")
        needed.add(name)
        todo.extend(_refs(served[name]))
    return {name: served[name] for name in sorted(needed)}


def render(doc: KubeDocument, *, kubernetes_version: str, schemas: Mapping[str, Schema]) -> str:
    """The committed file text for ``doc``: stable key order, one trailing newline."""
    body = {
        "kubernetesVersion": kubernetes_version,
        "source": doc.path,
        "roots": list(doc.roots),
        "schemas": schemas,
    }
    return json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def read_file(doc: KubeDocument) -> Schema:
    """The parsed committed file of ``doc``."""
    text = resources.files(__name__).joinpath(doc.file).read_text(encoding="utf-8")
    body: Schema = json.loads(text)
    return body


@functools.cache
def definitions() -> dict[str, Schema]:
    """Every committed definition by name (all files merged)."""
    merged: dict[str, Schema] = {}
    for doc in DOCUMENTS:
        for name, schema in read_file(doc)["schemas"].items():
            if name in merged and merged[name] != schema:
                raise KubeSchemaError(f"{name} differs between the committed kube schema files")
            merged[name] = schema
    return merged


def kubernetes_version() -> str:
    """The Kubernetes release the committed files were taken from (all files agree)."""
    versions = {read_file(doc)["kubernetesVersion"] for doc in DOCUMENTS}
    if len(versions) != 1:
        raise KubeSchemaError(
            f"the committed kube schema files disagree on the version: {versions}"
        )
    return str(versions.pop())


def snapshot(fetch: Callable[[str], Mapping[str, Any]]) -> dict[str, str]:
    """File name → text of every committed file, made from what ``fetch(path)`` (a GET of the
    API server, decoded) returns for ``/version`` and each document's path."""
    version = str(fetch("/version")["gitVersion"])
    return {
        doc.file: render(doc, kubernetes_version=version, schemas=trim(fetch(doc.path), doc.roots))
        for doc in DOCUMENTS
    }


def directory() -> Path:
    """Where the committed files live (the source tree, for an editable install)."""
    return Path(__file__).parent
