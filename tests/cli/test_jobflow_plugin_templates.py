"""Templates from the command line: ``kubectl jobflow run --template`` against the real control
plane with the controller in-process, and ``zenflow validate`` resolving templateRefs from the
files given.

Aspects: ``run --template NAME -p k=v`` creates a flow named after the template that runs the
whole template with that value (status records the template read); an undeclared param and a
missing required one are refused before anything is created (exit 2, naming them); a template
that does not exist is the API server's 404 (exit 1); ``zenflow validate`` accepts a flow whose
template is among the files and refuses, at the referring field, one that gives a param the
template does not declare, or whose template is not among the files.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from kubernetes_asyncio import client

from tests.support.jobflows import Running, running_controller, step_status
from zenflow.api.constants import API_VERSION, GROUP, JOBFLOW_PLURAL, VERSION
from zenflow.cli import jobflow_plugin
from zenflow.cli.main import main
from zenflow.envtest import ControlPlane

ROOT = Path(__file__).parents[2]

TEMPLATE: dict[str, Any] = {
    "apiVersion": API_VERSION,
    "kind": "JobFlowTemplate",
    "metadata": {"name": "echo"},
    "spec": {
        "params": [{"name": "word", "required": True}],
        "steps": [
            {
                "name": "say",
                "inputs": [{"name": "WORD", "value": "{{ params.word }}"}],
                "run": {
                    "image": "busybox",
                    "script": 'printf \'{"said": "%s"}\' "$WORD" > /dev/termination-log',
                },
                "outputs": [{"name": "said"}],
            }
        ],
    },
}


@pytest_asyncio.fixture(loop_scope="session")
async def running(kube_config: client.Configuration, namespace: str) -> AsyncIterator[Running]:
    async with running_controller(kube_config, namespace) as ctl:
        yield ctl


def plugin(plane: ControlPlane, running: Running, *argv: str) -> int:
    base = ["--kubeconfig", str(plane.kubeconfig_path), "-n", running.namespace, "--no-color"]
    return jobflow_plugin.main([*argv, *base])


@pytest.mark.integration
async def test_run_a_flow_from_a_template(
    control_plane: ControlPlane, running: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    await running.custom.create_namespaced_custom_object(
        GROUP, VERSION, running.namespace, "jobflowtemplates", TEMPLATE
    )
    code = await _in_thread(
        plugin, control_plane, running, "run", "--template", "echo", "-p", "word=hi"
    )
    out = capsys.readouterr().out
    assert code == 0, out
    (line,) = out.splitlines()
    name = line.removeprefix(f"jobflow.{GROUP}/").removesuffix(" created")
    assert name.startswith("echo-")
    done = await running.wait_phase(name)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert done["spec"] == {
        "templateRef": {"name": "echo", "kind": "JobFlowTemplate"},
        "params": [{"name": "word", "value": "hi"}],
    }
    assert step_status(done, "say")["outputs"] == {"said": "hi"}
    assert [t["name"] for t in done["status"]["resolved"]["templates"]] == ["echo"]

    undeclared = await _in_thread(
        plugin, control_plane, running, "run", "--template", "echo", "-p", "wrd=hi"
    )
    err = capsys.readouterr().err
    assert undeclared == 2
    assert "JobFlowTemplate 'echo' declares no param(s) wrd (declared: word)" in err
    assert await _in_thread(plugin, control_plane, running, "run", "--template", "echo") == 2
    assert "JobFlowTemplate 'echo' requires param(s) word" in capsys.readouterr().err
    assert await _in_thread(plugin, control_plane, running, "run", "--template", "nope") == 1
    assert "not found" in capsys.readouterr().err
    flows = await running.custom.list_namespaced_custom_object(
        GROUP, VERSION, running.namespace, JOBFLOW_PLURAL
    )
    assert [f["metadata"]["name"] for f in flows["items"]] == [name]


async def _in_thread(fn: Any, *args: Any) -> int:
    """The plugin runs its own event loop (as kubectl starts it): not on the test's."""
    result: int = await asyncio.to_thread(fn, *args)
    return result


def test_validate_resolves_templates_from_the_files_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    examples = [str(ROOT / "examples" / f) for f in ("scan-template.yaml", "scan-app.yaml")]
    assert main(["validate", *examples]) == 0
    assert capsys.readouterr().out == ""
    flow = yaml.safe_load((ROOT / "examples" / "scan-app.yaml").read_text())
    flow["spec"]["steps"][1]["params"].append({"name": "level", "value": "x"})
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(flow))
    assert main(["validate", examples[0], str(bad)]) == 1
    out = capsys.readouterr().out
    assert (
        'spec.steps[1].params[2].name: JobFlowTemplate "scan" in namespace "default" declares '
        'no param "level" (declared: image, severity)'
    ) in out
    assert len(out.splitlines()) == 1
    assert main(["validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert (
        'spec.steps[1].templateRef.name: JobFlowTemplate "scan" in namespace "default" not '
        "found in the files given"
    ) in out
    assert len(out.splitlines()) == 1
