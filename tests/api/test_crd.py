"""Tests of the generated CRDs (zenflow.api.crd, crds/).

Aspects: the committed crds/ equal what the models generate; schemas are structural (every node
typed, no $ref/anyOf/allOf, no defaults); descriptions reach kubectl explain; free-form objects
preserve unknown fields; step/param lists are keyed by name; names, short names, categories,
status subresource, printer columns; CEL rules present; no schema string or list that a CEL rule
reads is unbounded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from zenflow.api.crd import all_crds, cronjobflow_crd, jobflow_crd, render_yaml

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


@pytest.mark.parametrize("crd", [jobflow_crd(), cronjobflow_crd()], ids=["jobflow", "cron"])
def test_schema_is_structural(crd: dict[str, Any]) -> None:
    for path, node in _nodes(_schema(crd)):
        assert not {"$ref", "anyOf", "allOf", "oneOf", "default", "title"} & set(node), path
        typed = "type" in node or node.get("x-kubernetes-int-or-string")
        assert typed, f"{path} has no type"
        if node.get("type") == "object" and "properties" not in node and path != ".metadata":
            assert node.get("x-kubernetes-preserve-unknown-fields") or isinstance(
                node.get("additionalProperties"), dict
            ), path


def test_descriptions_for_kubectl_explain() -> None:
    schema = _schema(jobflow_crd())
    spec = schema["properties"]["spec"]
    steps = spec["properties"]["steps"]
    assert steps["description"]
    for name, prop in steps["items"]["properties"].items():
        assert prop.get("description"), name
    assert "\n" not in steps["items"]["description"]


def test_free_form_objects_and_keyed_lists() -> None:
    spec = _schema(jobflow_crd())["properties"]["spec"]["properties"]
    step = spec["steps"]["items"]["properties"]
    assert step["template"] == {
        "type": "object",
        "description": step["template"]["description"],
        "x-kubernetes-preserve-unknown-fields": True,
    }
    assert spec["steps"]["x-kubernetes-list-type"] == "map"
    assert spec["steps"]["x-kubernetes-list-map-keys"] == ["name"]
    assert spec["finally"]["x-kubernetes-list-type"] == "map"
    assert spec["params"]["x-kubernetes-list-map-keys"] == ["name"]
    assert spec["executionPolicy"]["properties"]["podFailurePolicy"][
        "x-kubernetes-preserve-unknown-fields"
    ]
    assert spec["params"]["items"]["properties"]["default"] == {
        "x-kubernetes-int-or-string": True,
        "description": "Value used when no value is given.",
    }
    matrix_values = step["matrix"]["properties"]["values"]
    assert matrix_values["additionalProperties"]["items"]["x-kubernetes-int-or-string"]


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
