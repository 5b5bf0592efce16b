"""CustomResourceDefinitions generated from the API models.

The pydantic JSON schema is turned into a *structural* OpenAPI v3 schema as the API server
requires: ``$ref``s inlined, ``Optional`` unions collapsed, ``str | int`` unions as
``x-kubernetes-int-or-string``, descriptions kept for ``kubectl explain``, defaults dropped (the
models apply them; stored objects stay small). Fields that hold Kubernetes objects (a step's Job
template, env vars, resources, podFailurePolicy, PVC and ConfigMap templates) get Kubernetes' own
schemas of the pinned release (``zenflow.api.kubestructural``), so the API server prunes, or with
strict field validation refuses, unknown fields there and bounds their nesting. No node is
free-form: a model field without a schema makes generation fail. CEL
``x-kubernetes-validations`` add what OpenAPI cannot say; each rule's estimated cost must fit the
API server's budget, which is why names and lists carry ``maxLength``/``maxItems``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import yaml
from pydantic import BaseModel

from zenflow.api import constants, kubestructural
from zenflow.api.cronjobflow import CronJobFlow
from zenflow.api.flowtemplate import ClusterFlowTemplate, FlowTemplate
from zenflow.api.jobflow import JobFlow
from zenflow.api.templateref import (
    CLUSTER_TEMPLATE_KIND,
    CLUSTER_TEMPLATE_PLURAL,
    TEMPLATE_KIND,
    TEMPLATE_PLURAL,
)

Schema = dict[str, Any]

_DROP: Final = frozenset({"title", "default", "additionalProperties", "examples"})
_KEEP_AS_IS: Final = frozenset(
    {
        "type",
        "description",
        "enum",
        "format",
        "pattern",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "required",
        "nullable",
        "x-kubernetes-int-or-string",
    }
)

# CEL rules attached to the schema of a model wherever it appears.
_RULES: Final[dict[str, list[Schema]]] = {
    "Step": [
        {
            "rule": "!(has(self.template) && has(self.run))",
            "message": "set either template or run, not both",
            "fieldPath": ".run",
        },
        {
            "rule": "(has(self.type) && self.type == 'Manual') || has(self.template) || "
            "has(self.run) || has(self.templateRef)",
            "message": "a Job step needs either template, run or templateRef",
        },
        {
            "rule": "!has(self.templateRef) || (!has(self.template) && !has(self.run))",
            "message": "template and run come from the template (templateRef): remove them",
            "fieldPath": ".templateRef",
        },
        {
            "rule": "!(has(self.type) && self.type == 'Manual') || "
            "(!has(self.template) && !has(self.run))",
            "message": "a Manual step runs nothing: remove template and run",
        },
        {
            "rule": "!has(self.dependencies) || !(self.name in self.dependencies)",
            "message": "a step cannot depend on itself",
            "fieldPath": ".dependencies",
        },
    ],
    "JobFlowSpec": [
        {
            "rule": "has(self.templateRef) || (has(self.steps) && size(self.steps) > 0)",
            "message": "at least one step is required (or a templateRef)",
            "fieldPath": ".steps",
        },
        {
            # A name -> true map makes each lookup O(1): a nested exists() would be quadratic
            # and far over the API server's CEL cost budget for 1,000 steps. CRD rules have
            # no cel.bind, so a one-element list binds the map to a variable instead.
            "rule": "!has(self.steps) || "
            "[self.steps.transformMapEntry(i, s, {s.name: true})].all(known, "
            "self.steps.all(s, !has(s.dependencies) || s.dependencies.all(d, d in known)))",
            "message": "dependencies must name steps of this flow",
            "fieldPath": ".steps",
        },
        {
            "rule": "!has(self.finally) || "
            "[self.finally.transformMapEntry(i, s, {s.name: true})].all(known, "
            "self.finally.all(s, !has(s.dependencies) || s.dependencies.all(d, d in known)))",
            "message": "dependencies of finally steps must name finally steps",
            "fieldPath": ".finally",
        },
        {
            "rule": "!has(self.finally) || !has(self.steps) || "
            "self.finally.all(f, self.steps.all(s, s.name != f.name))",
            "message": "finally step names must differ from step names",
            "fieldPath": ".finally",
        },
    ],
    "Backoff": [],
}


def _array(items: Schema) -> Callable[[Schema], Schema]:
    return lambda field: {"type": "array", "maxItems": field["maxItems"], "items": items}


# Model fields typed as plain dicts (Kubernetes objects passed through to what the controller
# creates) and the Kubernetes schema the CRD gives them; ``field`` is the model's own schema.
_KUBE_FIELDS: Final[dict[tuple[str, str], Callable[[Schema], Schema]]] = {
    ("Step", "template"): lambda field: kubestructural.job_template(),
    ("RunSpec", "env"): lambda field: kubestructural.env_list(max_items=None),
    ("RunSpec", "resources"): lambda field: kubestructural.resource_requirements(),
    ("JobFlowSpec", "env"): lambda field: kubestructural.env_list(max_items=field["maxItems"]),
    ("ExecutionPolicy", "podFailurePolicy"): lambda field: kubestructural.pod_failure_policy(),
    ("ResourceTemplates", "volumeClaimTemplates"): lambda field: _array(
        kubestructural.persistent_volume_claim()
    )(field),
    ("ResourceTemplates", "configMapTemplates"): lambda field: _array(kubestructural.config_map())(
        field
    ),
    ("FlowTemplateSpec", "env"): lambda field: kubestructural.env_list(max_items=field["maxItems"]),
    ("VolumeClaimTemplate", "spec"): lambda field: kubestructural.persistent_volume_claim_spec(),
    ("Workspace", "configMap"): lambda field: kubestructural.config_map_volume_source(),
    ("Workspace", "secret"): lambda field: kubestructural.secret_volume_source(),
    ("Workspace", "emptyDir"): lambda field: kubestructural.empty_dir_volume_source(),
}

# Lists whose items are keyed by name: the API server rejects duplicates natively.
_MAP_LISTS: Final = {
    ("JobFlowSpec", "steps"),
    ("JobFlowSpec", "finally"),
    ("JobFlowSpec", "params"),
    ("JobFlowSpec", "workspaces"),
    ("FlowTemplateSpec", "steps"),
    ("FlowTemplateSpec", "finally"),
    ("FlowTemplateSpec", "params"),
    ("FlowTemplateSpec", "workspaces"),
    ("Step", "workspaces"),
}


def structural_schema(model: type[BaseModel]) -> Schema:
    """The openAPIV3Schema of a top-level kind."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs: dict[str, Schema] = raw.get("$defs", {})
    # The API server owns the root metadata's schema: it must be a bare object.
    raw["properties"] = {k: v for k, v in raw["properties"].items() if k != "metadata"}
    root = _convert(raw, defs=defs, model=model.__name__)
    props = root["properties"]
    props["apiVersion"] = {
        "type": "string",
        "description": "APIVersion defines the versioned schema of this representation.",
    }
    props["kind"] = {"type": "string", "description": "Kind is the type of this object."}
    props["metadata"] = {"type": "object"}
    root.pop("required", None)
    root["required"] = ["spec"]
    return root


def _convert(node: Schema, *, defs: dict[str, Schema], model: str | None = None) -> Schema:
    node = dict(node)
    description = node.get("description")
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        inner = _convert(defs[name], defs=defs, model=name)
        if description:
            inner["description"] = _clean(description)
        return inner
    if "allOf" in node and len(node["allOf"]) == 1:
        merged = {**node["allOf"][0], **{k: v for k, v in node.items() if k != "allOf"}}
        return _convert(merged, defs=defs)
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        if len(options) == 1:
            return _convert({**options[0], **rest}, defs=defs)
        types = {o.get("type") for o in options}
        if types == {"string", "integer"}:
            out: Schema = {"x-kubernetes-int-or-string": True}
            if description:
                out["description"] = _clean(description)
            return out
        raise ValueError(f"cannot express union {options} in a structural schema")
    if node.get("x-kubernetes-int-or-string"):
        node.pop("type", None)
    out = {}
    for key, value in node.items():
        if key in _DROP or key == "properties" or key == "items":
            continue
        if key in _KEEP_AS_IS:
            out[key] = _clean(value) if key == "description" else value
        elif key.startswith("x-"):
            out[key] = value
    if node.get("type") == "object" and "properties" not in node:
        extra = node.get("additionalProperties")
        if not isinstance(extra, dict) or not extra:
            raise ValueError(f"{model or node} is a free-form object: give it a schema")
        out["additionalProperties"] = _convert(extra, defs=defs)
    if "properties" in node:
        out["type"] = "object"
        out["properties"] = {
            name: _kube_field(node=prop, build=build)
            if (build := _KUBE_FIELDS.get((model or "", name)))
            else _convert(prop, defs=defs)
            for name, prop in node["properties"].items()
        }
        for name, prop in out["properties"].items():
            if model is not None and (model, name) in _MAP_LISTS:
                prop["x-kubernetes-list-type"] = "map"
                prop["x-kubernetes-list-map-keys"] = ["name"]
        if not out.get("required"):
            out.pop("required", None)
    if "items" in node:
        out["items"] = _convert(node["items"], defs=defs)
    if model is not None and _RULES.get(model):
        out["x-kubernetes-validations"] = [dict(rule) for rule in _RULES[model]]
    return out


def _kube_field(*, node: Schema, build: Callable[[Schema], Schema]) -> Schema:
    """The Kubernetes schema of a dict-typed model field, with the model's description."""
    options = [o for o in node.get("anyOf", [node]) if o.get("type") != "null"]
    (field,) = options
    schema = build(field)
    description = node.get("description") or field.get("description")
    if description:
        schema.pop("description", None)
        schema = {"description": _clean(description), **schema}
    return schema


def _clean(text: str) -> str:
    """One paragraph: docstrings are wrapped at 100 columns, descriptions should not be."""
    return re.sub(r"\s+", " ", text).strip()


def _crd(
    *,
    kind: str,
    plural: str,
    short_names: list[str],
    schema: Schema,
    columns: list[Schema],
    scope: str = "Namespaced",
    status: bool = True,
) -> Schema:
    version: Schema = {
        "name": constants.VERSION,
        "served": True,
        "storage": True,
        "subresources": {"status": {}},
        "additionalPrinterColumns": columns,
        "schema": {"openAPIV3Schema": schema},
    }
    if not status:
        del version["subresources"]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{constants.GROUP}",
            "labels": {"app.kubernetes.io/name": "zenflow", "app.kubernetes.io/part-of": "zenflow"},
        },
        "spec": {
            "group": constants.GROUP,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short_names,
                "categories": [constants.CATEGORY],
            },
            "scope": scope,
            "versions": [version],
        },
    }


def _age() -> Schema:
    return {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def jobflow_crd() -> Schema:
    schema = structural_schema(JobFlow)
    schema["description"] = (
        "JobFlow runs a DAG of Kubernetes Jobs: one Job per step, in dependency order."
    )
    return _crd(
        kind=constants.JOBFLOW_KIND,
        plural=constants.JOBFLOW_PLURAL,
        short_names=["jf", "flow"],
        schema=schema,
        columns=[
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {
                "name": "Progress",
                "type": "string",
                "jsonPath": ".status.progress",
                "description": "Finished steps over all steps.",
            },
            _age(),
            {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 0},
        ],
    )


def cronjobflow_crd() -> Schema:
    schema = structural_schema(CronJobFlow)
    schema["description"] = "CronJobFlow creates a JobFlow from a template on a cron schedule."
    return _crd(
        kind=constants.CRONJOBFLOW_KIND,
        plural=constants.CRONJOBFLOW_PLURAL,
        short_names=["cjf", "cronflow"],
        schema=schema,
        columns=[
            {"name": "Schedule", "type": "string", "jsonPath": ".spec.schedule"},
            {"name": "TimeZone", "type": "string", "jsonPath": ".spec.timeZone"},
            {"name": "Suspend", "type": "boolean", "jsonPath": ".spec.suspend"},
            {"name": "Last Schedule", "type": "date", "jsonPath": ".status.lastScheduleTime"},
            _age(),
        ],
    )


def _template_crd(model: type[BaseModel], *, kind: str, plural: str, scope: str) -> Schema:
    schema = structural_schema(model)
    where = "in its namespace" if scope == "Namespaced" else "for every namespace"
    schema["description"] = (
        f"{kind} holds reusable steps (with declared params) {where}: a JobFlow step uses one "
        "with templateRef, or a whole JobFlow is made from it with spec.templateRef."
    )
    short = "".join(part[0] for part in re.findall(r"[A-Z][a-z]*", kind)).lower()
    return _crd(
        kind=kind,
        plural=plural,
        short_names=[short],
        schema=schema,
        columns=[
            {"name": "Description", "type": "string", "jsonPath": ".spec.description"},
            _age(),
        ],
        scope=scope,
        status=False,
    )


def template_crds() -> dict[str, Schema]:
    """File name → CRD of the JobFlowTemplate and ClusterJobFlowTemplate kinds."""
    return {
        f"{constants.GROUP}_{TEMPLATE_PLURAL}.yaml": _template_crd(
            FlowTemplate, kind=TEMPLATE_KIND, plural=TEMPLATE_PLURAL, scope="Namespaced"
        ),
        f"{constants.GROUP}_{CLUSTER_TEMPLATE_PLURAL}.yaml": _template_crd(
            ClusterFlowTemplate,
            kind=CLUSTER_TEMPLATE_KIND,
            plural=CLUSTER_TEMPLATE_PLURAL,
            scope="Cluster",
        ),
    }


def all_crds() -> dict[str, Schema]:
    """File name → CRD object, for every kind."""
    return {
        f"{constants.GROUP}_{constants.JOBFLOW_PLURAL}.yaml": jobflow_crd(),
        f"{constants.GROUP}_{constants.CRONJOBFLOW_PLURAL}.yaml": cronjobflow_crd(),
        **template_crds(),
    }


HEADER: Final = "# Generated from zenflow/api by `zenflow crd --output-dir crds`. Do not edit.\n"


class _NoAliasDumper(yaml.SafeDumper):
    """Write repeated sub-schemas out in full: anchors and aliases confuse readers and tools."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_yaml(crd: Schema) -> str:
    """The file text of one CRD."""
    body = yaml.dump(crd, Dumper=_NoAliasDumper, sort_keys=False, width=100)
    return HEADER + body
