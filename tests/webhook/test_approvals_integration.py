"""Governed approvals on the real control plane: the webhook (validating, with its
SubjectAccessReviews) registered with the local API server, the JobFlow controller running, and
``kubectl jobflow approve|reject`` run as the control plane's static-token users ``alice``,
``bob``, ``carol`` (``bob`` and ``carol`` in group ``approvers``) and ``dave``, each allowed to
read and patch JobFlows in the test namespace and nothing else (``alice`` also holds the RBAC
verb ``approve``).

Aspects:
- a 2-of-3 gate (approvers: user alice, group approvers) is released only by two distinct
  approvers: alice's repeat is refused naming the rule, dave (not an approver) is refused naming
  the approvers, a forged entry naming another user is refused; after bob the gate is Succeeded,
  ``approvedBy`` "alice, bob" and each approval recorded with its time, and the flow goes on;
- ``reject --reason`` fails the gate naming carol and her reason, and the flow fails;
- a gate without approvers needs the RBAC verb ``approve`` on the JobFlow: dave is refused by
  the SubjectAccessReview naming it, alice releases it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from kubernetes_asyncio import client
from prometheus_client import CollectorRegistry

from tests.support.jobflows import Running, jobflow, running_controller, step, step_status
from tests.support.wait import eventually
from tests.webhook.test_integration import SECRET, TIMEOUT_SECONDS, free_port
from zenflow.api.approvals import dump_entries, new_entry
from zenflow.api.constants import ANNOTATION_APPROVALS
from zenflow.certs import service_hosts
from zenflow.cli import jobflow_plugin
from zenflow.envtest.controlplane import ControlPlane
from zenflow.kube.rest import Rest
from zenflow.webhook.authorize import FlowAuthorizer
from zenflow.webhook.certstore import SecretCertSource
from zenflow.webhook.local import local_webhook_configuration
from zenflow.webhook.server import WebhookServer

USERS = ("alice", "bob", "carol", "dave")
FLOWS = {"apiGroups": ["workflow.zen.io"], "resources": ["jobflows"],
         "verbs": ["get", "list", "patch", "update"]}  # fmt: skip
APPROVE = {"apiGroups": ["workflow.zen.io"], "resources": ["jobflows"], "verbs": ["approve"]}


@dataclass
class Setup:
    plane: ControlPlane
    zf: Running
    kubeconfigs: dict[str, Path]

    @property
    def namespace(self) -> str:
        return self.zf.namespace

    async def plugin(
        self, user: str, *argv: str, capsys: pytest.CaptureFixture[str]
    ) -> tuple[int, str]:
        """Run ``kubectl jobflow ARGV`` as ``user``: (exit code, what it printed: stdout on
        success, its ``error:`` line otherwise; the in-process webhook's logs are left out)."""
        capsys.readouterr()
        base = ["--kubeconfig", str(self.kubeconfigs[user]), "-n", self.namespace, "--no-color"]
        args = jobflow_plugin.build_parser().parse_args([*argv, *base])
        code = await jobflow_plugin.run_args(args)
        out = capsys.readouterr()
        lines = (out.out + out.err).splitlines()
        mine = [ln for ln in lines if ln.startswith(("error: ", "jobflow.workflow.zen.io/"))]
        return code, "\n".join(mine) + "\n"

    async def kubectl(self, *args: str, user: str | None = None, input: str | None = None) -> Any:
        token = self.plane.tokens[user] if user else None
        return await asyncio.to_thread(
            self.plane.kubectl, *args, "-n", self.namespace, input=input, as_token=token,
            check=False,
        )  # fmt: skip


def role(name: str, rule: dict[str, Any], users: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": name}, "rules": [rule]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": name},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": u}
                      for u in users]},
    ]  # fmt: skip


@pytest_asyncio.fixture(loop_scope="session")
async def setup(
    control_plane: ControlPlane,
    kube_config: client.Configuration,
    api_client: client.ApiClient,
    namespace: str,
    tmp_path: Path,
) -> AsyncIterator[Setup]:
    port = free_port()
    name = f"zenflow-approvals-{namespace}"
    config = local_webhook_configuration(
        name=name, port=port, namespace=namespace, timeout_seconds=TIMEOUT_SECONDS
    )
    await asyncio.to_thread(control_plane.kubectl, "create", "-f", "-", input=json.dumps(config))
    source = SecretCertSource(
        api=api_client,
        namespace=namespace,
        secret_name=SECRET,
        hosts=service_hosts("zenflow-webhook", namespace, ["127.0.0.1"]),
        work_dir=tmp_path / "certs",
        webhook_config_name=name,
    )
    server = WebhookServer(
        source=source,
        authorizer=FlowAuthorizer(Rest(api_client), protected_namespaces=["zenflow-system"]),
        host="127.0.0.1",
        port=port,
        registry=CollectorRegistry(),
    )
    items = [*role("flows", FLOWS, USERS), *role("approver", APPROVE, ("alice",))]
    await asyncio.to_thread(
        control_plane.kubectl, "apply", "-n", namespace, "-f", "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}),
    )  # fmt: skip
    kubeconfigs = {
        user: control_plane.write_kubeconfig(
            tmp_path / f"{user}.kubeconfig", token=control_plane.tokens[user], user=user
        )
        for user in USERS
    }
    try:
        await server.start()
        async with running_controller(kube_config, namespace) as zf:
            found = Setup(control_plane, zf, kubeconfigs)
            await _until_enforced(found)
            yield found
    finally:
        await server.stop()
        await asyncio.to_thread(
            control_plane.kubectl, "delete", "validatingwebhookconfiguration", name, check=False
        )


async def _until_enforced(setup: Setup) -> None:
    """The API server picks up the webhook configuration and the RoleBindings asynchronously:
    wait until a forged approval is refused by the webhook and the users' roles are in force."""
    await setup.zf.create(jobflow("probe", [{"name": "gate", "type": "Manual"}]))
    forged = dump_entries([new_entry(step="gate", user="bob", now=datetime.now(UTC), reason=None)])

    async def refused() -> bool:
        out = await setup.kubectl(
            "annotate", "jobflow", "probe", f"{ANNOTATION_APPROVALS}={forged}", "--dry-run=server",
            user="dave",
        )  # fmt: skip
        assert "must name the requesting user 'dave'" in out.stderr, out.stderr
        return True

    await eventually(refused, what="the forged approval refused", within=30, interval=0.2)
    for user, verb in [(u, "patch") for u in USERS] + [("alice", "approve")]:

        async def allowed(user: str = user, verb: str = verb) -> bool:
            out = await setup.kubectl("auth", "can-i", verb, "jobflows.workflow.zen.io", user=user)
            return bool(out.stdout.strip() == "yes")

        await eventually(allowed, what=f"{user} may {verb} jobflows", within=30)


def gate_of(obj: dict[str, Any], name: str = "gate") -> dict[str, Any]:
    return step_status(obj, name) if obj.get("status") else {}


async def waiting(setup: Setup, flow: str) -> dict[str, Any]:
    return await setup.zf.wait_for(
        flow, lambda o: gate_of(o).get("phase") == "Waiting", what="gate Waiting"
    )


async def test_two_of_three_gate(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    approval = {"approvers": {"users": ["alice"], "groups": ["approvers"]}, "required": 2}
    gate = {"name": "gate", "type": "Manual", "dependencies": ["build"], "approval": approval}
    await setup.zf.create(jobflow("release", [step("build"), gate, step("deploy", "gate")]))
    await waiting(setup, "release")

    assert await setup.plugin("alice", "approve", "release", "gate", capsys=capsys) == (
        0, "jobflow.workflow.zen.io/release step gate approved by alice\n",
    )  # fmt: skip
    half = await setup.zf.wait_for(
        "release", lambda o: len(gate_of(o).get("approvals") or []) == 1, what="1 approval"
    )
    assert gate_of(half)["phase"] == "Waiting"
    assert gate_of(half)["message"] == "waiting for approval (1/2 approvals: alice)"

    code, out = await setup.plugin("alice", "approve", "release", "gate", capsys=capsys)
    assert code == 1
    assert "user 'alice' already approved step 'gate'; an approver counts once" in out
    code, out = await setup.plugin("dave", "approve", "release", "gate", capsys=capsys)
    assert code == 1
    assert (
        "user 'dave' may not approve step 'gate': not among its approval.approvers "
        "(users alice; groups approvers)"
    ) in out
    forged = json.loads(
        (await setup.zf.get("release"))["metadata"]["annotations"][ANNOTATION_APPROVALS]
    )
    forged.append({"step": "gate", "user": "carol", "time": "2026-01-01T00:00:00Z"})
    out = await setup.kubectl(
        "annotate", "jobflow", "release", "--overwrite",
        f"{ANNOTATION_APPROVALS}={json.dumps(forged)}", user="dave",
    )  # fmt: skip
    assert out.returncode != 0
    assert "must name the requesting user 'dave', not 'carol'" in out.stderr

    assert (await setup.plugin("bob", "approve", "release", "gate", capsys=capsys))[0] == 0
    done = await setup.zf.wait_phase("release")
    assert done["status"]["phase"] == "Succeeded"
    released = gate_of(done)
    assert (released["phase"], released["reason"], released["approvedBy"]) == (
        "Succeeded", "Approved", "alice, bob",
    )  # fmt: skip
    assert [(a["user"], a["decision"]) for a in released["approvals"]] == [
        ("alice", "Approved"),
        ("bob", "Approved"),
    ]
    assert all(a["time"].endswith("Z") for a in released["approvals"])
    assert gate_of(done, "deploy")["phase"] == "Succeeded"


async def test_reject_fails_the_gate_naming_the_user(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    gate = {"name": "gate", "type": "Manual", "approval": {"approvers": {"users": ["carol"]}}}
    await setup.zf.create(jobflow("vetoed", [gate, step("deploy", "gate")]))
    await waiting(setup, "vetoed")
    code, out = await setup.plugin(
        "carol", "reject", "vetoed", "gate", "--reason", "not on a Friday", capsys=capsys
    )
    assert (code, out) == (0, "jobflow.workflow.zen.io/vetoed step gate rejected by carol\n")
    done = await setup.zf.wait_phase("vetoed")
    assert done["status"]["phase"] == "Failed"
    rejected = gate_of(done)
    assert (rejected["phase"], rejected["reason"], rejected["message"]) == (
        "Failed", "Rejected", "rejected by carol: not on a Friday",
    )  # fmt: skip
    assert rejected["approvals"][0]["user"] == "carol"
    assert "rejected by carol: not on a Friday" in done["status"]["message"]
    assert gate_of(done, "deploy")["phase"] == "Skipped"


async def test_gate_without_approvers_needs_the_approve_verb(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    await setup.zf.create(jobflow("rbac", [{"name": "gate", "type": "Manual"}]))
    await waiting(setup, "rbac")
    code, out = await setup.plugin("dave", "approve", "rbac", "gate", capsys=capsys)
    assert code == 1
    assert (
        f"user 'dave' may not approve jobflows.workflow.zen.io \"rbac\" in namespace "
        f"'{setup.namespace}' (approving step \"gate\"); a Manual step without "
        "approval.approvers may be approved by whoever holds the RBAC verb approve on the JobFlow"
    ) in out
    assert (await setup.plugin("alice", "approve", "rbac", "gate", capsys=capsys))[0] == 0
    done = await setup.zf.wait_phase("rbac")
    assert (done["status"]["phase"], gate_of(done)["approvedBy"]) == ("Succeeded", "alice")
