"""End to end on the real control plane: reusable templates (issue 14).

Aspects: a flow whose steps use a JobFlowTemplate's step (``templateRef`` with ``params``) runs
it, the param reaching the container and its output the status, and records the resolved spec
and the template's resourceVersion in ``status.resolved``; a ClusterJobFlowTemplate serves the
namespace too; editing the template while a flow runs does not change that flow (its second
templated step still runs the version read at creation), while a flow created afterwards runs
the new one; a flow made from a whole template (``spec.templateRef``) runs the template's DAG
with the flow's param values; a flow referring to a template that does not exist fails with
reason TemplateNotFound and a Failed condition naming the template and the field.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.jobflows import Running, cache_holds, condition, jobflow, step_status
from tests.support.wait import eventually
from zenflow.api.constants import API_VERSION, GROUP, VERSION

pytestmark = pytest.mark.integration


def greet_template(
    *, message: str, kind: str = "JobFlowTemplate", name: str = "greet"
) -> dict[str, Any]:
    """One step that sleeps ``{{ params.pause }}`` s, then publishes ``{{ params.msg }}``."""
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            "description": "say something",
            "params": [{"name": "msg", "default": message}, {"name": "pause", "default": "0"}],
            "steps": [
                {
                    "name": "say",
                    "run": {
                        "image": "busybox",
                        "script": 'sleep "$PAUSE"; printf \'{"said": "%s"}\' "$MSG" > '
                        "/dev/termination-log",
                    },
                    "inputs": [
                        {"name": "MSG", "value": "{{ params.msg }}"},
                        {"name": "PAUSE", "value": "{{ params.pause }}"},
                    ],
                    "outputs": [{"name": "said"}],
                }
            ],
        },
    }


async def create_template(zf: Running, body: dict[str, Any]) -> dict[str, Any]:
    if body["kind"] == "ClusterJobFlowTemplate":
        created: dict[str, Any] = await zf.custom.create_cluster_custom_object(
            GROUP, VERSION, "clusterjobflowtemplates", body
        )
    else:
        created = await zf.custom.create_namespaced_custom_object(
            GROUP, VERSION, zf.namespace, "jobflowtemplates", body
        )
    return created


def uses(name: str, *deps: str, template: str = "greet", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "templateRef": {"name": template, "step": "say"}, **extra}
    if deps:
        body["dependencies"] = list(deps)
    return body


async def test_a_flow_whose_steps_use_templates_runs(zf: Running) -> None:
    template = await create_template(zf, greet_template(message="default"))
    cluster_name = f"greet-{zf.namespace}"
    cluster = greet_template(
        message="from the cluster", kind="ClusterJobFlowTemplate", name=cluster_name
    )
    await create_template(zf, cluster)
    try:
        flow = jobflow(
            "templated",
            [
                uses("first", params=[{"name": "msg", "value": "hello"}]),
                uses(
                    "second",
                    "first",
                    params=[{"name": "msg", "value": "{{ steps.first.outputs.said }}!"}],
                ),
                uses(
                    "third",
                    "second",
                    templateRef={"name": cluster_name, "kind": "ClusterJobFlowTemplate"},
                ),
            ],
        )
        await zf.create(flow)
        done = await zf.wait_phase("templated")
        assert done["status"]["phase"] == "Succeeded", done["status"]
        assert step_status(done, "first")["outputs"] == {"said": "hello"}
        assert step_status(done, "second")["outputs"] == {"said": "hello!"}
        assert step_status(done, "third")["outputs"] == {"said": "from the cluster"}
        resolved = done["status"]["resolved"]
        assert resolved["generation"] == done["metadata"]["generation"]
        sources = {(t["kind"], t["name"]): t for t in resolved["templates"]}
        ours = sources[("JobFlowTemplate", "greet")]
        assert ours["resourceVersion"] == template["metadata"]["resourceVersion"]
        assert ours["namespace"] == zf.namespace
        assert ("ClusterJobFlowTemplate", cluster_name) in sources
        spec = json.loads(resolved["specJson"])
        assert [s["name"] for s in spec["steps"]] == ["first", "second", "third"]
        assert all("templateRef" not in s for s in spec["steps"])
    finally:
        await zf.custom.delete_cluster_custom_object(
            GROUP, VERSION, "clusterjobflowtemplates", cluster_name
        )


async def test_editing_a_template_does_not_change_a_running_flow(zf: Running) -> None:
    await create_template(zf, greet_template(message="v1"))
    flow = jobflow(
        "pinned",
        [uses("slow", params=[{"name": "pause", "value": "4"}]), uses("after", "slow")],
    )
    await zf.create(flow)
    await zf.wait_for(
        "pinned",
        lambda o: step_status(o, "slow")["phase"] == "Running",
        what="the first step running",
    )
    patched = await zf.custom.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        zf.namespace,
        "jobflowtemplates",
        "greet",
        [{"op": "replace", "path": "/spec/params/0/default", "value": "v2"}],
    )
    running = await zf.get("pinned")
    assert step_status(running, "after")["phase"] == "Pending"  # not started when edited
    done = await zf.wait_phase("pinned")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert step_status(done, "after")["outputs"] == {"said": "v1"}
    # A flow created once the controller's cache holds the edit runs the new version.
    templates = zf.jobflow.informers.templates.store
    await eventually(lambda: cache_holds(templates, patched), what="the edit in the cache")
    await zf.create(jobflow("fresh", [uses("only")]))
    fresh = await zf.wait_phase("fresh")
    assert step_status(fresh, "only")["outputs"] == {"said": "v2"}


async def test_a_flow_made_from_a_whole_template(zf: Running) -> None:
    await create_template(zf, greet_template(message="unused"))
    flow = jobflow(
        "whole", [], templateRef={"name": "greet"}, params=[{"name": "msg", "value": "all"}]
    )
    del flow["spec"]["steps"]
    await zf.create(flow)
    done = await zf.wait_phase("whole")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert step_status(done, "say")["outputs"] == {"said": "all"}


async def test_a_missing_template_fails_the_flow(zf: Running) -> None:
    await zf.create(jobflow("orphan", [uses("a", template="nowhere")]))
    done = await zf.wait_phase("orphan")
    status = done["status"]
    expected = (
        f'spec.steps[0].templateRef.name: JobFlowTemplate "nowhere" in namespace '
        f'"{zf.namespace}" not found'
    )
    assert (status["phase"], status["reason"], status["message"]) == (
        "Failed",
        "TemplateNotFound",
        expected,
    )
    failed = condition(done, "Failed")
    assert failed is not None
    assert (failed["status"], failed["reason"], failed["message"]) == (
        "True",
        "TemplateNotFound",
        expected,
    )
    assert step_status(done, "a")["phase"] == "Skipped"
    assert await zf.jobs("orphan") == []
