"""Tests of the committed Kubernetes schemas (zenflow.api.kubeschemas) and their conversion into
structural CRD schemas (zenflow.api.kubestructural).

Aspects: the committed files are exactly what the API server of the pinned release serves,
trimmed to the closure of the roots (integration, against the real control plane); they name the
pinned release; every $ref resolves inside its file; trim() takes the $ref closure and names a
missing definition; the converter inlines $ref/allOf, maps Quantity/IntOrString to
int-or-string, keeps list-map markers (with the default a non-required key needs), cuts object
metadata to what a template may set, drops enums, patch and union markers and the prose of
undescribed types, and refuses free-form objects and unknown schema keywords.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from zenflow.api import kubeschemas, kubestructural
from zenflow.api.kubeschemas import DOCUMENTS, KubeSchemaError, trim
from zenflow.api.kubestructural import OBJECT_META
from zenflow.envtest.binaries import K8S_VERSION
from zenflow.envtest.controlplane import ControlPlane

_REF = "#/components/schemas/"


def test_committed_files_are_the_served_schemas(control_plane: ControlPlane) -> None:
    def fetch(path: str) -> Mapping[str, Any]:
        body: Mapping[str, Any] = json.loads(control_plane.kubectl("get", "--raw", path).stdout)
        return body

    for file_name, text in kubeschemas.snapshot(fetch).items():
        committed = (kubeschemas.directory() / file_name).read_text(encoding="utf-8")
        assert committed == text, f"{file_name} is stale: run `zenflow crd --refresh-kube-schemas`"


def test_committed_files_name_the_pinned_release() -> None:
    assert kubeschemas.kubernetes_version() == K8S_VERSION
    for doc in DOCUMENTS:
        body = kubeschemas.read_file(doc)
        assert body["source"] == doc.path
        assert body["roots"] == list(doc.roots)


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda d: d.file)
def test_committed_files_are_closed_under_ref(doc: kubeschemas.KubeDocument) -> None:
    schemas = kubeschemas.read_file(doc)["schemas"]
    document = {"components": {"schemas": schemas}}
    assert trim(document, doc.roots) == schemas


def _doc(**schemas: Any) -> dict[str, Any]:
    return {"components": {"schemas": schemas}}


def test_trim_takes_the_ref_closure() -> None:
    document = _doc(
        A={"properties": {"b": {"allOf": [{"$ref": f"{_REF}B"}]}}},
        B={"items": {"$ref": f"{_REF}C"}},
        C={"type": "string"},
        Unused={"type": "string"},
    )
    assert list(trim(document, ["A"])) == ["A", "B", "C"]
    with pytest.raises(KubeSchemaError, match="no definition 'Missing'"):
        trim(_doc(A={"$ref": f"{_REF}Missing"}), ["A"])


def _convert(name: str, **defs: Any) -> dict[str, Any]:
    fields = ("uid", *kubestructural.METADATA_FIELDS)
    meta = {"type": "object", "properties": {f: {"type": "string"} for f in fields}}
    all_defs = {OBJECT_META: meta, **defs}
    return kubestructural.SchemaConverter(all_defs).definition(name)


def test_converter_inlines_refs_and_maps_special_types() -> None:
    schema = _convert(
        "io.k8s.api.core.v1.Container",
        **{
            "io.k8s.api.core.v1.Container": {
                "description": "A container.",
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "description": "Its name.", "enum": ["a"]},
                    "cpu": {
                        "allOf": [{"$ref": f"{_REF}io.k8s.apimachinery.pkg.api.resource.Quantity"}]
                    },
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["port", "protocol"],
                        "x-kubernetes-patch-merge-key": "port",
                        "items": {"allOf": [{"$ref": f"{_REF}Port"}], "default": {}},
                    },
                    "meta": {"allOf": [{"$ref": f"{_REF}{OBJECT_META}"}], "default": {}},
                },
            },
            "io.k8s.apimachinery.pkg.api.resource.Quantity": {
                "oneOf": [{"type": "string"}, {"type": "number"}]
            },
            "Port": {
                "description": "Undescribed type.",
                "type": "object",
                "required": ["port"],
                "properties": {
                    "port": {"type": "integer", "description": "dropped"},
                    "protocol": {"type": "string", "default": "TCP"},
                },
            },
        },
    )
    assert schema == {
        "description": "A container.",
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"description": "Its name.", "type": "string"},
            "cpu": {"x-kubernetes-int-or-string": True},
            "ports": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["port", "protocol"],
                "items": {
                    "type": "object",
                    "required": ["port"],
                    "properties": {
                        "port": {"type": "integer"},
                        "protocol": {"type": "string", "default": "TCP"},
                    },
                },
            },
            "meta": {
                "type": "object",
                "properties": {f: {"type": "string"} for f in kubestructural.METADATA_FIELDS},
            },
        },
    }


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        pytest.param({"type": "object"}, "free-form", id="free-form"),
        pytest.param({"type": "string", "x-new-marker": True}, "unknown to this tool", id="key"),
        pytest.param({"oneOf": [{"type": "string"}, {"type": "boolean"}]}, "cannot", id="union"),
        pytest.param({"description": "no type"}, "has no type", id="untyped"),
        pytest.param(
            {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["k"],
                "items": {"type": "object", "properties": {"k": {"type": "string"}}},
            },
            "neither required nor defaulted",
            id="map-key",
        ),
    ],
)
def test_converter_refuses_what_a_crd_cannot_hold(definition: Any, message: str) -> None:
    with pytest.raises(KubeSchemaError, match=message):
        _convert("X", X=definition)


def test_embedded_schemas_hold_no_free_form_node() -> None:
    def walk(node: Any) -> None:
        assert "x-kubernetes-preserve-unknown-fields" not in node
        if node.get("type") == "object":
            assert "properties" in node or "additionalProperties" in node
        for sub in node.get("properties", {}).values():
            walk(sub)
        for key in ("items", "additionalProperties"):
            if key in node:
                walk(node[key])

    for build in (
        kubestructural.job_template,
        kubestructural.pod_failure_policy,
        kubestructural.resource_requirements,
        kubestructural.persistent_volume_claim,
        kubestructural.config_map,
    ):
        walk(build())
