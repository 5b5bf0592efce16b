"""Tests of the generated CRDs (zenflow.api.crd, crds/).

Aspects: the committed crds/ equal what the models generate; schemas are structural (every node
typed, no $ref/anyOf/allOf, defaults only on list-map keys); no node is free-form (nothing
preserves unknown fields, every object lists its properties or types its values) and nesting is
bounded; Kubernetes objects (step Job templates, env, resources, podFailurePolicy, PVC and
ConfigMap templates) carry Kubernetes' schemas; descriptions reach kubectl explain down to a
step's containers; the CRDs stay far below the API server's object size limit; step/param lists
are keyed by name; names, short names, categories, status subresource, printer columns; CEL
rules present; no schema string or list that a CEL rule reads is unbounded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from zenflow.api.crd import all_crds, cronjobflow_crd, jobflow_crd, render_yaml, template_crds

CRDS_DIR = Path(__file__).parents[2] / "crds"


@pytest.mark.parametrize("file_name", sorted(all_crds()))
def test_committed_crds_match_the_models(file_name: str) -> None:
    committed = (CRDS_DIR / file_name).read_text(encoding="utf-8")
    assert committed == render_yaml(all_crds()[file_name]), (
        "crds/ is stale: run `zenflow crd --output-dir crds`"
    )


def _nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, prop in schema.get("properties", {}).items():
        yield from _nodes(prop, f"{path}.{name}")
    if "items" in schema:
        yield from _nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _nodes(schema["additionalProperties"], f"{path}{{}}")


def _schema(crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


CRDS = [
    pytest.param(jobflow_crd(), id="jobflow"),
    pytest.param(cronjobflow_crd(), id="cron"),
    *[pytest.param(crd, id=name.split("_")[1][:-5]) for name, crd in template_crds().items()],
]


@pytest.mark.parametrize("crd", CRDS)
def test_schema_is_structural_and_nothing_is_free_form(crd: dict[str, Any]) -> None:
    map_keys: set[str] = set()
    for path, node in _nodes(_schema(crd)):
        map_keys.update(f"{path}[].{key}" for key in node.get("x-kubernetes-list-map-keys", ()))
    for path, node in _nodes(_schema(crd)):
        assert not {"$ref", "anyOf", "allOf", "oneOf", "title"} & set(node), path
        if ".template." in path:  # Kubernetes' enums are left to the Job API (newer values)
            assert "enum" not in node, path
        assert "x-kubernetes-preserve-unknown-fields" not in node, path
        if "default" in node:
            assert path in map_keys, f"{path}: a default off a list-map key"
        typed = "type" in node or node.get("x-kubernetes-int-or-string")
        assert typed, f"{path} has no type"
        if node.get("type") == "object" and path != ".metadata":
            assert "properties" in node or isinstance(node.get("additionalProperties"), dict), path
    assert _schema(crd)["properties"]["metadata"] == {"type": "object"}


@pytest.mark.parametrize("crd", CRDS)
def test_nesting_and_size_are_bounded(crd: dict[str, Any]) -> None:
    depth = max(path.count(".") + path.count("[]") for path, _ in _nodes(_schema(crd)))
    assert depth < 64
    # Stored as JSON by the API server: far below its 1.5 MB object limit.
    assert len(json.dumps(crd, separators=(",", ":"))) < 512 * 1024


def test_descriptions_for_kubectl_explain() -> None:
    schema = _schema(jobflow_crd())
    spec = schema["properties"]["spec"]
    steps = spec["properties"]["steps"]
    assert steps["description"]
    for name, prop in steps["items"]["properties"].items():
        assert prop.get("description"), name
    assert "\n" not in steps["items"]["description"]
    job = steps["items"]["properties"]["template"]["properties"]["spec"]
    pod = job["properties"]["template"]["properties"]["spec"]
    container = pod["properties"]["containers"]["items"]["properties"]
    for described in (job, pod, container["image"], container["env"], container["volumeMounts"]):
        assert described["description"]
    # Deep inside the pod the prose is dropped to keep the CRD small; the fields stay.
    capabilities = container["securityContext"]["properties"]["capabilities"]
    assert "description" not in capabilities["properties"]["drop"]


def test_kubernetes_objects_carry_kubernetes_schemas() -> None:
    spec = _schema(jobflow_crd())["properties"]["spec"]["properties"]
    step = spec["steps"]["items"]["properties"]
    for steps in (spec["steps"], spec["finally"]):
        template = steps["items"]["properties"]["template"]
        assert template["description"].startswith("A batch/v1 Job")
        assert set(template["properties"]) == {"apiVersion", "kind", "metadata", "spec"}
        metadata = template["properties"]["metadata"]["properties"]
        assert set(metadata) == {"name", "generateName", "namespace", "labels", "annotations"}
        job = template["properties"]["spec"]
        assert job["required"] == ["template"]
        pod = job["properties"]["template"]["properties"]["spec"]
        containers = pod["properties"]["containers"]
        assert containers["x-kubernetes-list-type"] == "map"
        assert containers["x-kubernetes-list-map-keys"] == ["name"]
        container = containers["items"]
        assert container["required"] == ["name"]
        assert container["properties"]["image"] == {
            "description": container["properties"]["image"]["description"],
            "type": "string",
        }
        ports = container["properties"]["ports"]["items"]["properties"]
        assert ports["protocol"]["default"] == "TCP"  # a list-map key must be required or default
        cpu = container["properties"]["resources"]["properties"]["limits"]["additionalProperties"]
        assert cpu == {"x-kubernetes-int-or-string": True}
    run = step["run"]["properties"]
    assert run["env"]["items"]["required"] == ["name"]
    assert "valueFrom" in run["env"]["items"]["properties"]
    assert set(run["resources"]["properties"]) >= {"limits", "requests"}
    assert spec["env"]["maxItems"] == 100
    assert spec["env"]["items"]["properties"]["valueFrom"]["properties"]["secretKeyRef"]
    policy = spec["executionPolicy"]["properties"]["podFailurePolicy"]
    assert policy["required"] == ["rules"]
    assert "onExitCodes" in policy["properties"]["rules"]["items"]["properties"]
    resources = spec["resourceTemplates"]["properties"]
    pvc = resources["volumeClaimTemplates"]
    assert pvc["maxItems"] == 32
    assert set(pvc["items"]["properties"]) == {"apiVersion", "kind", "metadata", "spec"}
    assert "accessModes" in pvc["items"]["properties"]["spec"]["properties"]
    config_map = resources["configMapTemplates"]["items"]["properties"]
    assert config_map["data"]["additionalProperties"] == {"type": "string"}
    assert config_map["binaryData"]["additionalProperties"] == {"type": "string", "format": "byte"}


def test_keyed_lists_and_int_or_string() -> None:
    spec = _schema(jobflow_crd())["properties"]["spec"]["properties"]
    step = spec["steps"]["items"]["properties"]
    assert spec["steps"]["x-kubernetes-list-type"] == "map"
    assert spec["steps"]["x-kubernetes-list-map-keys"] == ["name"]
    assert spec["finally"]["x-kubernetes-list-type"] == "map"
    assert spec["params"]["x-kubernetes-list-map-keys"] == ["name"]
    assert spec["params"]["items"]["properties"]["default"] == {
        "x-kubernetes-int-or-string": True,
        "description": "Value used when no value is given.",
    }
    matrix_values = step["matrix"]["properties"]["values"]
    assert matrix_values["additionalProperties"]["items"]["x-kubernetes-int-or-string"]


def test_cronjobflow_template_steps_carry_the_job_schema() -> None:
    spec = _schema(cronjobflow_crd())["properties"]["spec"]["properties"]
    flow = spec["jobFlowTemplate"]["properties"]["spec"]["properties"]
    for key in ("steps", "finally"):
        template = flow[key]["items"]["properties"]["template"]
        pod = template["properties"]["spec"]["properties"]["template"]["properties"]["spec"]
        assert "containers" in pod["properties"]


def test_enums_bounds_and_patterns() -> None:
    spec = _schema(jobflow_crd())["properties"]["spec"]["properties"]
    step = spec["steps"]["items"]["properties"]
    assert step["type"]["enum"] == ["Job", "Manual"]
    assert step["retryPolicy"]["properties"]["limit"]["minimum"] == 0
    assert step["retryPolicy"]["properties"]["backoff"]["properties"]["duration"]["pattern"]
    assert spec["executionPolicy"]["properties"]["concurrencyPolicy"]["enum"] == [
        "Allow",
        "Forbid",
        "Replace",
    ]
    assert step["name"]["maxLength"] == 40
    assert step["dependencies"]["items"]["maxLength"] == 40
    assert spec["steps"]["maxItems"] == 1000


def test_names_subresources_and_columns() -> None:
    crd = jobflow_crd()
    names = crd["spec"]["names"]
    assert crd["metadata"]["name"] == "jobflows.workflow.zen.io"
    assert names["shortNames"] == ["jf", "flow"]
    assert names["categories"] == ["zenflow"]
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns == {
        "Phase": ".status.phase",
        "Progress": ".status.progress",
        "Age": ".metadata.creationTimestamp",
        "Message": ".status.message",
    }
    assert cronjobflow_crd()["spec"]["names"]["kind"] == "CronJobFlow"


def test_cel_rules_are_attached_where_they_apply() -> None:
    for crd, spec_path in (
        (jobflow_crd(), ["spec"]),
        (cronjobflow_crd(), ["spec", "jobFlowTemplate", "spec"]),
    ):
        node = _schema(crd)
        for part in spec_path:
            node = node["properties"][part]
        messages = {r["message"] for r in node["x-kubernetes-validations"]}
        assert "dependencies must name steps of this flow" in messages
        step_rules = node["properties"]["steps"]["items"]["x-kubernetes-validations"]
        assert any("cannot depend on itself" in r["message"] for r in step_rules)


def test_rendered_yaml_has_no_aliases() -> None:
    for crd in all_crds().values():
        text = render_yaml(crd)
        assert "&id" not in text
        assert "*id" not in text
        assert yaml.safe_load(text) == crd
