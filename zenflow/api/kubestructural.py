"""Kubernetes' own schemas (``zenflow.api.kubeschemas``) as *structural* CRD schemas, for the
fields of our kinds that hold Kubernetes objects: a step's Job template, the ``run`` shorthand's
env and resources, ``spec.env``, ``podFailurePolicy``, the resource templates and the workspaces'
volume sources and claim template.

The served OpenAPI v3 is turned into what the API server accepts in a CRD: ``$ref`` and
single-element ``allOf`` wrappers inlined; ``Quantity`` and ``IntOrString`` as
``x-kubernetes-int-or-string``; ``x-kubernetes-list-type``/``-list-map-keys``/``-map-type`` kept
(so duplicate container names are refused, as for a Pod); patch-strategy, union and GVK markers
dropped; ``default`` dropped except on a list-map key that is not required (the API server
insists on one there: a port's ``protocol: TCP``). ``enum`` is dropped: the Job API checks those
values when the Job is created, a cluster newer than the pinned release may accept more, and a
``{{ params.x }}`` reference must stay possible in any string field. Object metadata is cut to
what zenflow passes on (name, generateName, namespace, labels, annotations): managedFields,
ownerReferences and the like are not for a template.

Descriptions are kept where ``kubectl explain`` is read — the Job, its pod template, the pod spec,
containers, env, resources, volumes, metadata, podFailurePolicy, PVC and ConfigMap — and dropped
deeper (volume sources, affinity, probes, security contexts …), which keeps the CRDs small.

Invariants: the result has no ``$ref``, ``allOf``/``anyOf``/``oneOf`` or free-form object (every
object has ``properties`` or typed ``additionalProperties``; an unknown shape raises
``KubeSchemaError``), so unknown fields are pruned and nesting is bounded by the schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from zenflow.api.kubeschemas import KubeSchemaError, Schema, definitions, ref_name

_BATCH: Final = "io.k8s.api.batch.v1."
_CORE: Final = "io.k8s.api.core.v1."
_META: Final = "io.k8s.apimachinery.pkg.apis.meta.v1."
OBJECT_META: Final = f"{_META}ObjectMeta"
_INT_OR_STRING: Final = frozenset(
    {
        "io.k8s.apimachinery.pkg.api.resource.Quantity",
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    }
)

METADATA_FIELDS: Final = ("name", "generateName", "namespace", "labels", "annotations")
"""The ObjectMeta fields a template may set (the rest are the API server's or the controller's)."""

DESCRIBED: Final = frozenset(
    {
        f"{_BATCH}JobTemplateSpec",
        f"{_BATCH}JobSpec",
        f"{_BATCH}PodFailurePolicy",
        f"{_BATCH}PodFailurePolicyRule",
        f"{_BATCH}PodFailurePolicyOnExitCodesRequirement",
        f"{_BATCH}PodFailurePolicyOnPodConditionsPattern",
        f"{_CORE}PodTemplateSpec",
        f"{_CORE}PodSpec",
        f"{_CORE}Container",
        f"{_CORE}EnvVar",
        f"{_CORE}EnvVarSource",
        f"{_CORE}EnvFromSource",
        f"{_CORE}ConfigMapKeySelector",
        f"{_CORE}SecretKeySelector",
        f"{_CORE}Volume",
        f"{_CORE}ResourceRequirements",
        f"{_CORE}VolumeMount",
        f"{_CORE}PersistentVolumeClaim",
        f"{_CORE}PersistentVolumeClaimSpec",
        f"{_CORE}ConfigMap",
        OBJECT_META,
    }
)
"""Definitions whose own and whose fields' descriptions reach the CRD (``kubectl explain``)."""

_KEPT: Final = frozenset(
    {
        "type",
        "format",
        "required",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "pattern",
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-map-type",
    }
)
_DROPPED: Final = frozenset(
    {
        "description",
        "default",
        "enum",
        "x-kubernetes-patch-strategy",
        "x-kubernetes-patch-merge-key",
        "x-kubernetes-unions",
        "x-kubernetes-group-version-kind",
    }
)


class SchemaConverter:
    """Inlines OpenAPI v3 definitions (by default the committed ones) into structural schemas."""

    def __init__(self, defs: Mapping[str, Schema]) -> None:
        self._defs = dict(defs)
        meta = defs[OBJECT_META]
        self._defs[OBJECT_META] = {
            **meta,
            "properties": {k: meta["properties"][k] for k in METADATA_FIELDS},
        }

    def definition(self, name: str, *, described: bool = True) -> Schema:
        """The structural schema of definition ``name`` (with its own description)."""
        return self._node({"$ref": f"#/components/schemas/{name}"}, described=described)

    def _resolve(self, node: Schema) -> tuple[Schema, str | None]:
        """Follow ``allOf: [{$ref}]``/``$ref`` to the definition; the wrapper's keys win."""
        if "allOf" in node:
            (inner,) = node["allOf"]
            rest = {k: v for k, v in node.items() if k != "allOf"}
            resolved, name = self._resolve(inner)
            return {**resolved, **rest}, name
        if "$ref" in node:
            name = ref_name(node["$ref"])
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {**self._defs[name], **rest}, name
        return node, None

    def _node(self, raw: Schema, *, described: bool) -> Schema:
        """``described``: keep this node's description (its parent definition is described)."""
        node, name = self._resolve(raw)
        inner_described = name in DESCRIBED if name is not None else described
        description = node.get("description") if described or inner_described else None
        if name in _INT_OR_STRING or node.get("format") == "int-or-string":
            out: Schema = {"x-kubernetes-int-or-string": True}
        elif "oneOf" in node or "anyOf" in node:
            raise KubeSchemaError(f"cannot express {name or node} in a structural schema")
        else:
            out = self._typed(node, name=name, described=inner_described)
        if description:
            out = {"description": description, **out}
        return out

    def _typed(self, node: Schema, *, name: str | None, described: bool) -> Schema:
        out: Schema = {}
        for key, value in node.items():
            if key in _KEPT:
                out[key] = value
            elif key not in _DROPPED and key not in ("properties", "items", "additionalProperties"):
                raise KubeSchemaError(f"{name or 'a schema'} uses {key!r}, unknown to this tool")
        kind = node.get("type")
        if kind == "object":
            if "properties" in node:
                out["properties"] = {
                    prop: self._node(sub, described=described)
                    for prop, sub in node["properties"].items()
                }
            elif isinstance(node.get("additionalProperties"), Mapping):
                out["additionalProperties"] = self._node(
                    node["additionalProperties"], described=False
                )
            else:
                raise KubeSchemaError(f"{name or 'an object'} is free-form: no properties")
        elif kind == "array":
            out["items"] = self._node(node["items"], described=False)
            if out.get("x-kubernetes-list-type") == "map":
                self._default_map_keys(node, out)
        elif kind is None:
            raise KubeSchemaError(f"{name or node} has no type")
        return out

    def _default_map_keys(self, raw: Schema, out: Schema) -> None:
        """A list-map key must be required or defaulted: keep the served default where needed."""
        items, _ = self._resolve(raw["items"])
        required = set(items.get("required", ()))
        for key in out["x-kubernetes-list-map-keys"]:
            if key in required:
                continue
            served, _ = self._resolve(items["properties"][key])
            if "default" not in served:
                raise KubeSchemaError(f"list-map key {key!r} is neither required nor defaulted")
            out["items"]["properties"][key]["default"] = served["default"]


def _converter() -> SchemaConverter:
    return SchemaConverter(definitions())


def _object_kind(description: str) -> Schema:
    return {"type": "string", "description": description}


def job_template() -> Schema:
    """A step's Job: batch/v1 JobTemplateSpec, plus the optional apiVersion and kind."""
    schema = _converter().definition(f"{_BATCH}JobTemplateSpec")
    schema["properties"] = {
        "apiVersion": _object_kind('"batch/v1" when set (may be omitted).'),
        "kind": _object_kind('"Job" when set (may be omitted).'),
        **schema["properties"],
    }
    return schema


def pod_failure_policy() -> Schema:
    """batch/v1 PodFailurePolicy."""
    return _converter().definition(f"{_BATCH}PodFailurePolicy")


def env_var() -> Schema:
    """core/v1 EnvVar."""
    return _converter().definition(f"{_CORE}EnvVar")


def env_list(*, max_items: int | None) -> Schema:
    """A container's ``env`` list: EnvVars keyed by name (as in a Pod)."""
    schema: Schema = {
        "type": "array",
        "items": env_var(),
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
    }
    if max_items is not None:
        schema["maxItems"] = max_items
    return schema


def resource_requirements() -> Schema:
    """core/v1 ResourceRequirements."""
    return _converter().definition(f"{_CORE}ResourceRequirements")


def persistent_volume_claim() -> Schema:
    """core/v1 PersistentVolumeClaim without its status."""
    schema = _converter().definition(f"{_CORE}PersistentVolumeClaim")
    schema["properties"].pop("status")
    return schema


def config_map() -> Schema:
    """core/v1 ConfigMap."""
    return _converter().definition(f"{_CORE}ConfigMap")


def persistent_volume_claim_spec() -> Schema:
    """core/v1 PersistentVolumeClaimSpec (a workspace's claim template)."""
    return _converter().definition(f"{_CORE}PersistentVolumeClaimSpec")


def config_map_volume_source() -> Schema:
    """core/v1 ConfigMapVolumeSource (a ConfigMap workspace)."""
    return _converter().definition(f"{_CORE}ConfigMapVolumeSource")


def secret_volume_source() -> Schema:
    """core/v1 SecretVolumeSource (a Secret workspace)."""
    return _converter().definition(f"{_CORE}SecretVolumeSource")


def empty_dir_volume_source() -> Schema:
    """core/v1 EmptyDirVolumeSource (an emptyDir workspace)."""
    return _converter().definition(f"{_CORE}EmptyDirVolumeSource")
