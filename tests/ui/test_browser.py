"""The web UI in a real headless Chromium, against the real local control plane with the JobFlow
controller running (one browser, one namespace, one controller and UI server for the module):

- the list shows a flow created with the API within 2 s (pushed by the watch, no reload);
- the DAG of examples/cicd.yaml has 8 nodes and 9 edges, in the layers of its stages;
- a step turns green in the DAG within 2 s of its Job completing;
- Approve releases a Manual step, recorded in the UI user's name (`approvedBy`), and the flow
  Succeeds;
- Retry of a failed flow creates attempt 2 of the failed step, shown in the DAG;
- a user whose RBAC allows reading but not patching sees the API server's refusal verbatim;
- a 500-step flow renders within 2 s of opening its page.

Screenshots of each go to .artifacts/ui/.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from kubernetes_asyncio import client

from tests.support.jobflows import Running, jobflow, running_controller, step, step_status
from tests.support.wait import eventually
from tests.ui.browser import Page, monotonic, start_chromium
from zenflow.envtest import ControlPlane
from zenflow.envtest.pytest_plugin import namespace_name
from zenflow.kube.client import load_configuration, new_api_client
from zenflow.ui import UiOptions, UiServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts" / "ui"
WITHIN_2S = 2.0  # the bound for live updates and for rendering 500 steps
SETTLE_S = 60.0  # waits on the cluster itself (Jobs running), not on the UI


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    driver = start_chromium()
    tab = Page(driver, ARTIFACTS)
    try:
        yield tab
    finally:
        tab.close()
        driver.quit()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ui_namespace(kube_config: client.Configuration) -> AsyncIterator[str]:
    api = new_api_client(kube_config)
    core = client.CoreV1Api(api)
    name = namespace_name("ui-browser")
    await core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        await eventually(
            lambda: core.read_namespaced_service_account("default", name),
            retry_on=(client.ApiException,),
            what="the namespace's default service account",
        )
        yield name
    finally:
        await core.delete_namespace(name)
        await api.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def zf(kube_config: client.Configuration, ui_namespace: str) -> AsyncIterator[Running]:
    async with running_controller(kube_config, ui_namespace) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ui(
    kube_config: client.Configuration, ui_namespace: str, page: Page
) -> AsyncIterator[UiServer]:
    options = UiOptions(namespace=ui_namespace, port=0, login_token=secrets.token_urlsafe(16))
    async with UiServer(kube_config, options) as server:
        await page.open(server.login_url)
        yield server


def url(ui: UiServer, fragment: str) -> str:
    return f"{ui.url}#/{fragment}"


async def open_flow(page: Page, ui: UiServer, namespace: str, name: str) -> None:
    await page.open(url(ui, f"flows/{namespace}/{name}"))
    await page.wait(
        "document.body.dataset.rendered === arguments[0]",
        arg=f"{namespace}/{name}",
        within=10,
        what=f"flow page {name} rendered",
    )


def node_phase(name: str) -> str:
    return f"document.querySelector('svg.dag .node[data-step=\"{name}\"]')?.dataset.phase"


async def test_list_shows_a_created_flow_within_2s(page: Page, ui: UiServer, zf: Running) -> None:
    await page.open(url(ui, ""))
    await page.wait("document.body.dataset.flows !== undefined", within=10, what="list loaded")
    await zf.create(jobflow("listed", [step("a", seconds=1), step("b", "a")]))
    key = f"{zf.namespace}/listed"
    await page.wait(
        '!!document.querySelector(`tr[data-flow="${arguments[0]}"]`)',
        arg=key,
        within=WITHIN_2S,
        what="the new flow's row",
    )
    await page.wait(
        "document.querySelector(`tr[data-flow=\"${arguments[0]}\"]`).dataset.phase === 'Succeeded'",
        arg=key,
        within=SETTLE_S,
        what="the row turns Succeeded live",
    )
    await page.screenshot("list")


async def test_cicd_dag_has_its_stages_in_layers(page: Page, ui: UiServer, zf: Running) -> None:
    flow = yaml.safe_load((ROOT / "examples" / "cicd.yaml").read_text())
    flow["spec"]["suspend"] = True  # only the graph matters here: start nothing
    await zf.create(flow)
    await open_flow(page, ui, zf.namespace, "cicd-pipeline")
    drawn: dict[str, Any] = await page.js(
        "return {nodes: [...document.querySelectorAll('svg.dag .node')].map("
        "  n => [n.dataset.step, Number(n.dataset.layer)]),"
        " edges: [...document.querySelectorAll('svg.dag .edge')].map("
        "  e => [e.dataset.from, e.dataset.to])};"
    )
    layers = dict(drawn["nodes"])
    assert len(drawn["nodes"]) == 8
    assert len(drawn["edges"]) == 9
    assert layers == {
        "checkout": 0,
        "install": 1,
        "build": 2,
        "unit-tests": 3,
        "integration-tests": 3,
        "e2e-tests": 3,
        "deploy": 4,
        "notify": 5,
    }
    assert all(layers[a] < layers[b] for a, b in drawn["edges"])
    await page.screenshot("dag-cicd")


async def test_a_step_turns_green_within_2s_of_its_job_completing(
    page: Page, ui: UiServer, zf: Running
) -> None:
    await zf.create(jobflow("live", [step("slow", seconds=3), step("next", "slow", seconds=30)]))
    await open_flow(page, ui, zf.namespace, "live")
    await page.wait(f"{node_phase('slow')} === 'Running'", within=SETTLE_S, what="slow Running")

    async def job_complete() -> bool:
        jobs = [j for j in await zf.jobs("live") if j["metadata"]["name"].startswith("live-slow")]
        conditions = [c for j in jobs for c in (j.get("status") or {}).get("conditions") or []]
        return any(c["type"] == "Complete" and c["status"] == "True" for c in conditions)

    await eventually(job_complete, within=SETTLE_S, interval=0.02, what="slow's Job Complete")
    completed = monotonic()
    await page.wait(f"{node_phase('slow')} === 'Succeeded'", within=WITHIN_2S, what="slow green")
    green_after = monotonic() - completed
    assert (
        await page.js(
            "return getComputedStyle(document.querySelector("
            "'svg.dag .node[data-step=\"slow\"] .badge')).fill"
        )
        == "rgb(31, 157, 85)"
    )  # --succeeded
    await page.screenshot("dag-live")
    print(f"step green in the DAG {green_after:.2f}s after its Job completed")


async def test_approve_releases_a_manual_step(page: Page, ui: UiServer, zf: Running) -> None:
    gate = {"name": "gate", "type": "Manual", "message": "Ship release 1.2.3?"}
    await zf.create(jobflow("gated", [step("build"), gate, step("ship", "gate")]))
    await page.open(url(ui, f"flows/{zf.namespace}/gated/steps/gate"))
    await page.wait(f"{node_phase('gate')} === 'Waiting'", within=SETTLE_S, what="gate Waiting")
    await page.screenshot("approve-waiting")
    await page.click('.step-panel button[data-action="approve"]')
    await page.wait(f"{node_phase('gate')} === 'Succeeded'", within=10, what="gate released")
    done = await zf.wait_phase("gated", within=SETTLE_S)
    assert done["status"]["phase"] == "Succeeded"
    # The UI approved in the name the API server gives its user (the envtest admin).
    (gate_status,) = [s for s in done["status"]["steps"] if s["name"] == "gate"]
    assert gate_status["approvedBy"] == "admin"
    await page.wait(f"{node_phase('ship')} === 'Succeeded'", within=10, what="ship green")
    await page.screenshot("approve-done")


async def test_retry_creates_a_new_attempt(page: Page, ui: UiServer, zf: Running) -> None:
    await zf.create(jobflow("flaky", [step("ok"), step("bad", "ok", exit_code=1)]))
    await open_flow(page, ui, zf.namespace, "flaky")
    await page.wait(
        "document.querySelector('.flow-header').dataset.phase === 'Failed'",
        within=SETTLE_S,
        what="flow Failed",
    )
    await page.click('.flow-header button[data-action="retry"]')

    async def second_attempt_failed() -> bool:
        flow = await zf.get("flaky")
        return bool(
            flow["status"]["phase"] == "Failed" and step_status(flow, "bad").get("attempt") == 2
        )

    await eventually(second_attempt_failed, within=SETTLE_S, what="attempt 2 of bad")
    await page.wait(
        "document.querySelector('svg.dag .node[data-step=\"bad\"] .attempts').textContent === '↻1'",
        within=10,
        what="the DAG shows bad's retry",
    )
    assert {j["metadata"]["labels"]["workflow.zen.io/attempt"] for j in await zf.jobs("flaky")} >= {
        "1",
        "2",
    }
    await page.open(url(ui, f"flows/{zf.namespace}/flaky/steps/bad"))
    await page.wait(
        "document.querySelectorAll('.step-panel tr[data-job]').length === 2",
        within=10,
        what="both attempts listed",
    )
    await page.screenshot("retry")


async def test_rbac_denied_action_shows_the_refusal(
    page: Page, control_plane: ControlPlane, zf: Running, tmp_path: Path
) -> None:
    namespace = zf.namespace
    rbac = client.RbacAuthorizationV1Api(zf.api)
    read = ["get", "list", "watch"]
    rules = [
        client.V1PolicyRule(
            api_groups=["workflow.zen.io"], resources=["jobflows", "cronjobflows"], verbs=read
        ),
        client.V1PolicyRule(api_groups=["batch"], resources=["jobs"], verbs=read),
        client.V1PolicyRule(api_groups=[""], resources=["pods", "pods/log"], verbs=read),
    ]
    await rbac.create_namespaced_role(
        namespace, client.V1Role(metadata=client.V1ObjectMeta(name="ui-viewer"), rules=rules)
    )
    await rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="alice-views"),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="Role", name="ui-viewer"
            ),
            subjects=[client.RbacV1Subject(kind="User", name="alice")],
        ),
    )
    await zf.create(jobflow("guarded", [step("long", seconds=60)]))
    kubeconfig = control_plane.write_kubeconfig(
        tmp_path / "alice.kubeconfig", token=control_plane.tokens["alice"], user="alice"
    )
    alice = await load_configuration(str(kubeconfig))
    options = UiOptions(namespace=namespace, port=0, login_token=secrets.token_urlsafe(16))
    async with UiServer(alice, options) as as_alice:
        await page.open(as_alice.login_url)
        await open_flow(page, as_alice, namespace, "guarded")
        await page.click('.flow-header button[data-action="suspend"]')
        refusal: str = await page.wait(
            "(() => { const e = document.getElementById('refusal');"
            " return e && !e.hidden && e.textContent; })()",
            within=10,
            what="the refusal shown",
        )
        await page.screenshot("rbac-refused")
    assert "403" in refusal
    assert 'User "alice" cannot patch resource "jobflows"' in refusal
    flow = await zf.get("guarded")
    assert not flow["spec"].get("suspend")


async def test_a_500_step_flow_renders_within_2s(page: Page, ui: UiServer, zf: Running) -> None:
    steps = [step(f"s{i:03d}", *([f"s{(i - 1) // 3:03d}"] if i else [])) for i in range(500)]
    await zf.create(jobflow("big", steps, suspend=True))
    await eventually(lambda: ui.state.watch.flow(zf.namespace, "big"), what="big in the cache")
    await page.open("about:blank")  # a full page load, not an in-page route change
    started = monotonic()
    await page.open(url(ui, f"flows/{zf.namespace}/big"))
    left = WITHIN_2S - (monotonic() - started)
    await page.wait(
        "document.body.dataset.rendered === arguments[0]"
        " && document.querySelectorAll('svg.dag .node').length === 500",
        arg=f"{zf.namespace}/big",
        within=max(0.0, left),
        what="500 nodes drawn",
    )
    took = monotonic() - started
    render_ms = await page.js("return document.body.dataset.renderMs")
    await page.screenshot("dag-500")
    print(f"500-step flow: page to drawn {took:.2f}s (DAG render {render_ms} ms)")
