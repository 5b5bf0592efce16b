"""The UI's read routes and event streams (zenflow.ui.routes), on hand-fed informer caches:

- /api/config tells the scope and whether actions are on;
- /api/flows and /api/flows/NS/NAME serve summaries and the detail with its layout; an unknown
  flow is 404;
- the list stream sends a snapshot, then an upsert when the cache changes and a delete when
  the flow goes; the flow stream sends only the changed steps after the full detail;
- /api/run/params reads the params of a pasted JobFlow and reports bad YAML;
- the static assets are served from the package.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import ClientResponse

from tests.ui.conftest import LOGIN, MakeClient
from tests.ui.test_security import _csrf


def _flow(name: str, phase: str = "Running", rv: str = "1", **steps: str) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "ns",
            "name": name,
            "uid": f"uid-{name}",
            "resourceVersion": rv,
            "generation": 1,
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {"steps": [{"name": "a"}, {"name": "b", "dependencies": ["a"]}]},
        "status": {"phase": phase, "steps": [{"name": k, "phase": v} for k, v in steps.items()]},
    }


async def _events(resp: ClientResponse, count: int) -> list[tuple[str, Any]]:
    """Read ``count`` SSE messages (comments skipped)."""
    out: list[tuple[str, Any]] = []
    event = ""
    while len(out) < count:
        line = (await resp.content.readline()).decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            out.append((event, json.loads(line[6:])))
    return out


async def test_config_tells_scope_and_actions(ui_app: MakeClient) -> None:
    test_client, _ = await ui_app(read_only=True)
    await test_client.get(f"/?token={LOGIN}")
    doc = await (await test_client.get("/api/config")).json()
    assert (doc["namespace"], doc["allNamespaces"], doc["actions"]) == ("ns", False, False)


async def test_flows_and_flow_detail_from_the_cache(ui_app: MakeClient) -> None:
    test_client, state = await ui_app()
    await test_client.get(f"/?token={LOGIN}")
    state.watch.flows.replace([_flow("one", a="Succeeded"), _flow("two")], "5")
    flows = (await (await test_client.get("/api/flows")).json())["flows"]
    assert sorted(f["name"] for f in flows) == ["one", "two"]
    detail = await (await test_client.get("/api/flows/ns/one")).json()
    assert [s["phase"] for s in detail["steps"]] == ["Succeeded", "Pending"]
    assert detail["layout"]["edges"] == [["a", "b"]]
    assert (await test_client.get("/api/flows/ns/nope")).status == 404


async def test_list_stream_sends_snapshot_upsert_and_delete(ui_app: MakeClient) -> None:
    test_client, state = await ui_app()
    await test_client.get(f"/?token={LOGIN}")
    state.watch.flows.replace([_flow("one")], "5")
    async with test_client.get("/api/events/flows") as resp:
        assert resp.headers["Content-Type"] == "text/event-stream"
        [(kind, snap)] = await _events(resp, 1)
        assert kind == "snapshot"
        assert [f["name"] for f in snap["flows"]] == ["one"]
        state.watch.flows.apply("MODIFIED", _flow("one", "Succeeded", rv="6"))
        [(kind, row)] = await _events(resp, 1)
        assert (kind, row["name"], row["phase"]) == ("upsert", "one", "Succeeded")
        state.watch.flows.apply("DELETED", _flow("one", rv="7"))
        assert await _events(resp, 1) == [("delete", {"namespace": "ns", "name": "one"})]


async def test_flow_stream_sends_only_changed_steps(ui_app: MakeClient) -> None:
    test_client, state = await ui_app()
    await test_client.get(f"/?token={LOGIN}")
    state.watch.flows.replace([_flow("one", a="Running")], "5")
    async with test_client.get("/api/events/flows/ns/one") as resp:
        (kind, full), _health = await _events(resp, 2)
        assert kind == "flow"
        assert full["full"]
        assert len(full["steps"]) == 2
        state.watch.flows.apply("MODIFIED", _flow("one", rv="6", a="Succeeded"))
        [(kind, part)] = await _events(resp, 1)
        assert kind == "flow"
        assert not part["full"]
        assert [(s["name"], s["phase"]) for s in part["steps"]] == [("a", "Succeeded")]


async def test_run_params_reads_the_pasted_flow(ui_app: MakeClient) -> None:
    test_client, _ = await ui_app()
    await test_client.get(f"/?token={LOGIN}")
    headers = {"X-CSRF-Token": await _csrf(test_client)}
    text = """
apiVersion: workflow.zen.io/v1alpha1
kind: JobFlow
metadata: {name: p}
spec:
  params: [{name: env, default: dev, enum: [dev, prod]}]
  steps: [{name: a, run: {image: busybox, command: ["true"]}}]
"""
    doc = await (
        await test_client.post("/api/run/params", json={"yaml": text}, headers=headers)
    ).json()
    assert doc["name"] == "p"
    assert doc["params"] == [
        {
            "name": "env",
            "default": "dev",
            "description": None,
            "required": False,
            "enum": ["dev", "prod"],
        },
    ]
    bad = await test_client.post("/api/run/params", json={"yaml": "a: [b"}, headers=headers)
    assert bad.status == 400
    assert "YAML" in (await bad.json())["error"]


async def test_static_assets_are_served_from_the_package(ui_app: MakeClient) -> None:
    test_client, _ = await ui_app()
    await test_client.get(f"/?token={LOGIN}")
    for path in (
        "/static/js/main.js",
        "/static/js/dag.js",
        "/static/app.css",
        "/static/favicon.svg",
    ):
        assert (await test_client.get(path)).status == 200, path
