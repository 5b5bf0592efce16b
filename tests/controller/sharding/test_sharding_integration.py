"""Active-active replicas (``zenflow controller --sharding``) on the real control plane: real
Leases, labels, label-selected informers, real ``zenflow controller`` processes; annotation-mode
pods end at once.

Aspects:
  * three replicas share 300 flows: each owns roughly a third (measured from the shard labels);
    the flows of a concurrency group share one owner; every flow Succeeds with exactly one Job
    per (step, attempt) (the test's own Job informer records every uid a Job name ever had);
  * SIGKILL one replica mid-run: its flows are labelled for the survivors, none before the
    victim's Lease could have expired; they finish, still one Job per attempt (how soon they
    move is printed, and measured by ``benchmarks.sharding``, not asserted);
  * scale 3 -> 2 -> 4 while flows run (a SIGTERM, then two new replicas: rebalancing by drain):
    no flow was reconciled by two replicas at once -- an audit of every version of every flow
    (``audit.FlowAudit``: the field manager of each status write, the shard and drain labels)
    shows each status write made by the flow's labelled owner, writers never interleaving, and
    every move either acknowledged by the old owner (drain) or made after it stopped; no flow is
    stranded (all Succeed), and drains did happen; every replica's /metrics has the per-shard
    series, the drains count, and the sharder counts four members.
"""

from __future__ import annotations

import re
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from tests.controller.jobflow.job_tracker import JobTracker
from tests.controller.sharding.audit import FlowAudit
from tests.support.controller_process import ControllerProcess, controller_args, parse_ts
from tests.support.jobflows import Running, jobflow, step
from tests.support.wait import eventually
from zenflow.api.constants import LABEL_CONCURRENCY_GROUP
from zenflow.envtest.controlplane import ControlPlane
from zenflow.kube.client import new_api_client

pytestmark = pytest.mark.integration

LEASE, RENEW, RETRY = 8.0, 6.0, 1.0
CLOCK_SKEW = 0.5
"""Seconds of tolerance between the test's clock reading before the kill and the replicas' log
timestamps (one host clock; the reading and the kill are not one instant)."""


class Replicas:
    """Sharded controller processes of one test, by name."""

    def __init__(self, control_plane: ControlPlane, namespace: str, tmp_path: Path) -> None:
        self.args = [
            *controller_args(
                kubeconfig=control_plane.kubeconfig_path, namespace=namespace, lease="zf-shards"
            ),
            "--sharding",
            # Longer than the leader tests' timings: three controllers, the control plane and
            # the test share two cores, and a replica that misses its renew deadline exits.
            "--lease-duration", str(LEASE),
            "--renew-deadline", str(RENEW),
            "--retry-period", str(RETRY),
        ]  # fmt: skip
        self.tmp_path = tmp_path
        self.procs: dict[str, ControllerProcess] = {}
        self.stopped: dict[str, float] = {}
        """shard -> monotonic time the test stopped or killed it"""

    def start(self, name: str) -> ControllerProcess:
        proc = ControllerProcess(name, self.args, log_path=self.tmp_path / f"{name}.log")
        self.procs[name] = proc
        return proc.start()

    async def shard(self, name: str) -> str:
        proc = self.procs[name]
        record = await eventually(
            lambda: next(iter(proc.events("controller_starting")), None), what=f"{name} starts"
        )
        return str(record["identity"])

    async def start_members(self, *names: str) -> dict[str, str]:
        """Start ``names`` and wait until the sharder sees them all; their shard identities."""
        for name in names:
            self.start(name)
        shards = {name: await self.shard(name) for name in names}
        await self.members_seen(len(names))
        return shards

    def live(self) -> list[ControllerProcess]:
        return [p for p in self.procs.values() if p.proc.poll() is None]

    async def members_seen(self, count: int) -> None:
        """Until the sharder has seen ``count`` live members."""

        def seen() -> bool:
            return any(
                len(r.get("members") or []) == count
                for p in self.live()
                for r in p.events("sharder_members_changed")[-1:]
            )

        await eventually(seen, what=f"the sharder sees {count} members", within=60)

    def sharder(self) -> ControllerProcess | None:
        for p in self.live():
            if len(p.events("sharder_started")) > len(p.events("sharder_stopped")):
                return p
        return None

    def close(self) -> None:
        for p in self.procs.values():
            p.close()
        for p in self.procs.values():
            assert "Unclosed" not in p.text(), p.name  # every client closed
            # No error: a replica never lost its membership, nothing failed. (A status write
            # refused as stale, 409, is a warning: the sharder's label writes cause a few.)
            errors = [r for r in p.records if r.get("level") in ("error", "critical")]
            assert not errors, (p.name, errors[:3])


def metrics(proc: ControllerProcess) -> str:
    port = proc.events("http_server_listening")[-1]["port"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        return str(answer.read().decode())


def sample(page: str, series: str) -> float:
    found = re.search(rf"^{re.escape(series)} (\S+)$", page, re.M)
    return float(found[1]) if found else 0.0


@pytest.fixture
def replicas(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> Iterator[Replicas]:
    r = Replicas(control_plane, namespace, tmp_path)
    try:
        yield r
    finally:
        r.close()


def exact_jobs(tracker: JobTracker, expected: dict[str, set[str]]) -> None:
    created = tracker.created
    for name, jobs in expected.items():
        names = {n for n in created if n.startswith(f"{name}-")}
        assert names == jobs, (name, sorted(names))
    duplicated = {n: uids for n, uids in created.items() if len(uids) != 1}
    assert not duplicated, duplicated


async def all_succeeded(audit: FlowAudit, names: list[str], *, within: float) -> None:
    def done() -> bool:
        pending = [
            n
            for n in names
            if not audit.versions.get(n) or audit.versions[n][-1].phase != "Succeeded"
        ]
        assert not pending, f"{len(pending)} not Succeeded, e.g. {pending[:5]}"
        return True

    await eventually(done, what="every flow Succeeded", within=within, interval=0.5)


async def test_three_replicas_share_300_flows_and_take_over_a_killed_ones(
    kube_config: client.Configuration, namespace: str, replicas: Replicas
) -> None:
    api = new_api_client(kube_config)
    zf = Running(manager=None, jobflow=None, api=api, namespace=namespace)  # type: ignore[arg-type]
    tracker, audit = JobTracker(api, namespace), FlowAudit(api, namespace)
    try:
        async with tracker.running(), audit.running():
            shards = await replicas.start_members("r1", "r2", "r3")
            expected: dict[str, set[str]] = {}
            for i in range(300):
                name = f"f{i:03d}"
                labels = {LABEL_CONCURRENCY_GROUP: f"g{i % 10}"} if i < 40 else {}
                await zf.create(jobflow(name, [step("a"), step("b", "a")], labels=labels))
                expected[name] = {f"{name}-a-1", f"{name}-b-1"}

            def assigned() -> dict[str, str | None]:
                now = audit.shards()
                return now if len(now) == 300 and all(now.values()) else {}

            owners = await eventually(assigned, what="every flow assigned", within=60)
            share = Counter(owners.values())
            print(f"\nflows per shard: {dict(share)}")
            assert set(share) == set(shards.values()), share
            assert all(60 <= n <= 140 for n in share.values()), share  # about 100 each
            for g in range(10):  # a concurrency group lives on one shard
                group = {owners[f"f{i:03d}"] for i in range(g, 40, 10)}
                assert len(group) == 1, (g, group)

            sharder = replicas.sharder()
            victim = next(n for n in ("r1", "r2", "r3") if replicas.procs[n] is not sharder)
            await tracker.seen(200, within=120)
            killed_wall = datetime.now(UTC)
            replicas.procs[victim].kill()
            replicas.stopped[shards[victim]] = time.monotonic()

            await all_succeeded(audit, list(expected), within=240)
            await tracker.caught_up()
            exact_jobs(tracker, expected)
            moves = audit.check(stopped=replicas.stopped)
            assert moves["dead"] > 0, moves  # the victim had flows in flight
            taken = [
                parse_ts(r["timestamp"])
                for p in replicas.live()
                for r in p.events("shard_assigned")
                if r.get("reason") == "dead" and r.get("previous") == shards[victim]
            ]
            assert len(taken) == moves["dead"], (len(taken), moves)
            first, last = ((t - killed_wall).total_seconds() for t in (min(taken), max(taken)))
            print(f"takeover of {len(taken)} flows: {first:.2f}s to {last:.2f}s after the kill")
            # Safety: no flow of the victim moved before its Lease could have expired (its last
            # renewal was at most a retry period before the kill, and the sharder counts the
            # lease duration from when it saw that renewal). How soon after that the moves come
            # depends on the machine: a benchmark's figure (benchmarks.sharding), printed above,
            # not asserted; that they all come is all_succeeded's.
            assert first >= LEASE - RETRY - CLOCK_SKEW, (first, last)
    finally:
        await api.close()


async def test_scaling_3_to_2_to_4_never_gives_a_flow_two_owners(
    kube_config: client.Configuration, namespace: str, replicas: Replicas
) -> None:
    api = new_api_client(kube_config)
    zf = Running(manager=None, jobflow=None, api=api, namespace=namespace)  # type: ignore[arg-type]
    tracker, audit = JobTracker(api, namespace), FlowAudit(api, namespace)
    steps: list[dict[str, Any]] = [
        step("a", seconds=0.3),
        step("b", "a", seconds=0.3),
        step("c", "b", seconds=0.3),
    ]
    try:
        async with tracker.running(), audit.running():
            shards = await replicas.start_members("r1", "r2", "r3")
            expected: dict[str, set[str]] = {}
            for i in range(120):
                name = f"s{i:03d}"
                await zf.create(jobflow(name, steps))
                expected[name] = {f"{name}-{s}-1" for s in "abc"}
            total = 3 * len(expected)

            await tracker.seen(total // 4, within=120)
            replicas.stopped[shards["r3"]] = time.monotonic()
            assert replicas.procs["r3"].terminate() == 0  # 3 -> 2
            await replicas.members_seen(2)

            await tracker.seen(total // 2, within=120)
            for name in ("r4", "r5"):  # 2 -> 4
                replicas.start(name)
            await replicas.members_seen(4)

            await all_succeeded(audit, list(expected), within=240)
            await tracker.caught_up()
            exact_jobs(tracker, expected)

            def settled() -> dict[str, int] | None:
                """The audit's moves once every drain the audit saw was logged by its owner
                (finished flows are rebalanced too, so drains may still be under way)."""
                moves = audit.check(stopped=replicas.stopped)
                acknowledged = sum(
                    len(p.events("shard_drain_acknowledged")) for p in replicas.procs.values()
                )
                assert acknowledged == moves["drained"], (acknowledged, moves)
                return moves

            moves = await eventually(settled, what="drains settled", within=60, interval=0.5)
            print(f"\nmoves: {moves}")
            assert moves["dead"] > 0, moves  # r3's flows moved after it left
            assert moves["drained"] > 0, moves  # r4/r5 took flows from live owners
            pages = {p.name: metrics(p) for p in replicas.live()}
            for name, page in pages.items():  # per-shard metrics on every replica
                assert "zenflow_shard_info{shard=" in page, name
                assert 'zenflow_shard_objects_owned{kind="JobFlow"}' in page, name
            drained = sum(
                sample(page, 'zenflow_shard_drains_acknowledged_total{kind="JobFlow"}')
                for page in pages.values()
            )
            assert drained > 0, drained
            sharder = replicas.sharder()
            assert sharder is not None
            assert sample(pages[sharder.name], "zenflow_sharder_members") == 4
    finally:
        await api.close()
