"""Two ``zenflow controller`` processes against the real local apiserver (integration;
MACHINERY.md #17 to #21 end to end): exactly one leads and the other stands by (ready, warm);
SIGKILL the leader and the standby leads within the lease duration; SIGTERM the leader and the
next standby leads within about one retry period (the Lease is released); at no instant do two
processes run leader work (asserted from their JSON logs); shutdown leaves no unclosed client;
a leader cut off from the apiserver stops its work within the renew deadline, before the lease
could expire for others, and exits non-zero; /metrics serves the leader and queue gauges."""

from __future__ import annotations

import itertools
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.controller_process import (
    LEASE_DURATION,
    RENEW_DEADLINE,
    RETRY_PERIOD,
    ControllerProcess,
    controller_args,
    parse_ts,
)
from tests.support.plane import start_apiserver_and_recover
from tests.support.wait import eventually_sync
from zenflow.envtest.controlplane import ControlPlane

pytestmark = pytest.mark.integration

LEASE, RENEW, RETRY = LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD
# A standby retries every retry period stretched by client-go's jitter factor (up to x2.2).
RETRY_MAX = RETRY * 2.2
SLACK = 1.5  # process scheduling, request latency on a shared 2-core machine


def _readyz(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as resp:
            return resp.status, resp.read().decode().strip()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode().strip()


def _ready(proc: ControllerProcess) -> tuple[int, str]:
    """/readyz once the informers have synced (500 until then)."""
    port = proc.wait_for("http_server_listening", within=30)["port"]

    def answer() -> tuple[int, str]:
        got = _readyz(port)
        assert got[0] == 200, got
        return got

    return eventually_sync(answer, what=f"{proc.name} ready", within=30)


def test_one_leader_failover_on_kill_and_handover_on_sigterm(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    args = controller_args(
        kubeconfig=control_plane.kubeconfig_path, namespace=namespace, lease="zenflow-test"
    )
    procs = [ControllerProcess(n, args, log_path=tmp_path / f"{n}.log") for n in ("p1", "p2")]
    # Each process's leader-work intervals: from leader_runnables_started to the instant its
    # leader work ended (leader_runnables_stopped, or the SIGKILL).
    ended: dict[str, datetime] = {}
    try:
        for p in procs:
            p.start()
        leader = eventually_sync(
            lambda: next((p for p in procs if p.events("leader_runnables_started")), None),
            what="a leader",
            within=45,
            interval=0.05,
        )
        standby = procs[1] if leader is procs[0] else procs[0]
        assert standby.events("leader_acquired") == []
        assert _ready(standby) == (200, "ok (standby)")
        assert _ready(leader) == (200, "ok (leader)")

        killed_at = datetime.now(UTC)
        leader.kill()
        ended[leader.name] = killed_at
        took_over = parse_ts(standby.wait_for("leader_acquired", within=LEASE + 15)["timestamp"])
        assert (took_over - killed_at).total_seconds() <= LEASE + RETRY_MAX + SLACK

        third = ControllerProcess("p3", args, log_path=tmp_path / "p3.log").start()
        procs.append(third)
        assert _ready(third) == (200, "ok (standby)")
        standby.wait_for("leader_runnables_started", within=30)
        termed_at = datetime.now(UTC)
        assert standby.terminate() == 0
        assert standby.events("leader_released"), "the lease was not released"
        handed = parse_ts(third.wait_for("leader_acquired", within=LEASE + 15)["timestamp"])
        assert (handed - termed_at).total_seconds() <= RETRY_MAX + SLACK
        third.wait_for("leader_runnables_started", within=30)
        assert third.terminate() == 0
    finally:
        for p in procs:
            p.close()
    for p in procs:  # every client closed on shutdown (MACHINERY.md #25), no crash output
        text = (tmp_path / f"{p.name}.log").read_text()
        assert "Unclosed" not in text, p.name
        assert "Traceback" not in text, p.name

    intervals = []
    for p in procs:
        for began in p.events("leader_runnables_started"):
            stops = p.events("leader_runnables_stopped")
            end = parse_ts(stops[0]["timestamp"]) if stops else ended[p.name]
            intervals.append((parse_ts(began["timestamp"]), end, p.name))
    intervals.sort()
    assert len(intervals) == 3, intervals
    for (_, end_a, a), (start_b, _, b) in itertools.pairwise(intervals):
        assert end_a <= start_b, f"{a} and {b} both ran leader work"


def test_leader_cut_off_from_apiserver_stops_work_within_renew_deadline_and_exits(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    args = controller_args(
        kubeconfig=control_plane.kubeconfig_path, namespace=namespace, lease="zenflow-cutoff"
    )
    proc = ControllerProcess("solo", args, log_path=tmp_path / "solo.log").start()
    try:
        proc.wait_for("leader_runnables_started", within=45)
        port = proc.wait_for("http_server_listening", within=5)["port"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            metrics = resp.read().decode()
        assert 'leader_election_master_status{name="zenflow-cutoff"} 1.0' in metrics
        assert "workqueue_depth{" in metrics
        cut_at = datetime.now(UTC)
        control_plane.stop_apiserver()
        try:
            stopped = proc.wait_for("leader_runnables_stopped", within=RENEW + 15)
            assert proc.proc.wait(30) == 1  # exits non-zero to restart as a clean standby
        finally:
            start_apiserver_and_recover(control_plane)
    finally:
        proc.close()
    assert stopped["reason"] == "leadership_lost"
    # Work stops by the renew deadline after the last renew (at most one retry period before the
    # cut), i.e. before a standby could see the lease expire.
    elapsed = (parse_ts(stopped["timestamp"]) - cut_at).total_seconds()
    assert elapsed <= RENEW + SLACK
    assert elapsed < LEASE
