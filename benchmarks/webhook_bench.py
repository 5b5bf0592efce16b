"""Benchmark: admission webhook latency under load (target: p99 <= 20 ms at 50 requests/s), and
under a bounded attack (target: p99 <= 100 ms, no lease renewal of the controller missed).

Run: ``.venv/bin/python -m benchmarks.webhook_bench [--only load|attack] [--rate 50]
[--seconds 10] [--attack-seconds 30] [--isolation process|thread] [--attacker-nice N]``.
Not a timed test: it prints figures. Loopback only, bounded in count and time.

*Load.* The real server (``zenflow webhook``: TLS, worker processes running the shared validator,
metrics, one JSON log line per decision) runs as its own process on 127.0.0.1 with a freshly
generated certificate; a client verifying that certificate sends AdmissionReviews at a fixed rate
(open loop: a request's send time never waits for the previous answer, as the apiserver's calls
do not) over keep-alive connections. The mix cycles through every JobFlow/CronJobFlow in
examples/ as CREATE, each as an UPDATE of itself, and one broken flow per ten requests (a denial
with messages). Latency is measured at the client, from send to the full response body. No API
server here, so this run has ``--no-authorize-flows``.

*Attack.* A local control plane, and ``zenflow controller``
as the Deployment runs it: leader election on, the webhook in the same process, authorizing
flows with SubjectAccessReviews; the examples' JobFlowTemplates exist in the reviews' namespace,
so the flows using them are judged with them. The same normal load runs for ``--seconds`` alone
(baseline), then for ``--attack-seconds`` while ``benchmarks.webhook_attack`` (its own process)
sends 8 parallel 3 MB reviews that each cost seconds of validation, and holds 200 half-open
connections.
The Lease is read every 0.25 s: each new renewTime is a renewal; a gap between two renewals
longer than 1.5 retry periods counts the renewals missed in it.

The attacker runs at ``--attacker-nice`` (default 19, the lowest CPU priority): in a cluster,
building and encrypting the 3 MB bodies is done by the attacker's machine and the API server,
not on the webhook's CPU; on this machine the attacker shares the webhook's cores, and as an
equal (``--attacker-nice 0``) it takes CPU the webhook would have had. The flood it delivers is
about the same either way (the attacker prints what it sent and its CPU seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import itertools
import json
import re
import signal
import socket
import ssl
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from kubernetes_asyncio import client

from zenflow.certs import renew, service_hosts
from zenflow.envtest import ControlPlane
from zenflow.kube.client import new_api_client
from zenflow.webhook.server import VALIDATE_PATH

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
MAX_REQUESTS = 5_000  # per phase, hard bound whatever the flags say
RETRY_PERIOD = 2.0  # the controller's default --retry-period
LEASE = ("default", "zenflow-controller")
REVIEW_NAMESPACE = "bench"


def _review(
    obj: dict[str, Any], *, operation: str, uid: int, user: str, groups: list[str]
) -> bytes:
    kind = obj["kind"]
    request: dict[str, Any] = {
        "uid": f"bench-{uid}",
        "kind": {"group": "workflow.zen.io", "version": "v1alpha1", "kind": kind},
        "resource": {
            "group": "workflow.zen.io",
            "version": "v1alpha1",
            "resource": kind.lower() + "s",
        },
        "operation": operation,
        "name": obj["metadata"].get("name", ""),
        "namespace": REVIEW_NAMESPACE,
        "userInfo": {"username": user, "groups": groups},
        "object": obj,
        "oldObject": obj if operation == "UPDATE" else None,
    }
    return json.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    ).encode()


def request_mix(
    user: str = "bench", groups: tuple[str, ...] = ("system:authenticated",)
) -> list[bytes]:
    flows = []
    for path in sorted(EXAMPLES.glob("*.y*ml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") in {"JobFlow", "CronJobFlow"}:
                doc.setdefault("metadata", {}).setdefault("name", path.stem)
                flows.append(doc)
    broken = {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "metadata": {"name": "broken"},
        "spec": {
            "steps": [
                {"name": "a", "dependencies": ["b"], "run": {"image": "busybox"}},
                {"name": "b", "dependencies": ["a", "nope"], "run": {"image": "busybox"}},
            ]
        },
    }
    mix: list[bytes] = []
    for i, flow in enumerate(flows * 2):
        operation = "UPDATE" if i >= len(flows) else "CREATE"
        mix.append(_review(flow, operation=operation, uid=i, user=user, groups=list(groups)))
        if i % 9 == 8:
            mix.append(_review(broken, operation="CREATE", uid=i, user=user, groups=list(groups)))
    return mix


async def create_templates(api: client.ApiClient) -> None:
    """The namespace the reviews name, and in it the examples' JobFlowTemplates, so the flows
    that use them are judged with them, as in a cluster that has them."""
    namespace = client.V1Namespace(metadata=client.V1ObjectMeta(name=REVIEW_NAMESPACE))
    await client.CoreV1Api(api).create_namespace(namespace)
    objects = client.CustomObjectsApi(api)
    for path in sorted(EXAMPLES.glob("*.y*ml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "JobFlowTemplate":
                await objects.create_namespaced_custom_object(
                    "workflow.zen.io", "v1alpha1", REVIEW_NAMESPACE, "jobflowtemplates", doc
                )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(
    session: aiohttp.ClientSession, url: str, server: asyncio.subprocess.Process
) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            async with session.get(url) as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if server.returncode is not None or time.monotonic() > deadline:
            raise RuntimeError("the webhook process did not become ready")
        await asyncio.sleep(0.1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Phase:
    """The normal reviews of one phase, as the client saw them."""

    latencies: list[float] = field(default_factory=list)
    results: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def figures(self) -> dict[str, Any]:
        ms = [v * 1000 for v in self.latencies]
        return {
            "requests": len(ms),
            "seconds": round(self.seconds, 2),
            "achieved_rate": round(len(ms) / self.seconds, 1) if self.seconds else 0.0,
            "results": dict(sorted(self.results.items())),
            "p50_ms": round(statistics.median(ms), 2),
            "p90_ms": round(percentile(ms, 0.90), 2),
            "p99_ms": round(percentile(ms, 0.99), 2),
            "max_ms": round(max(ms), 2),
        }


async def normal_load(
    session: aiohttp.ClientSession, url: str, mix: list[bytes], *, rate: float, seconds: float
) -> Phase:
    """Send the mix open loop at ``rate`` for ``seconds``; every answer's latency and verdict."""
    phase = Phase()

    async def one(body: bytes) -> None:
        sent = time.perf_counter()
        try:
            async with session.post(
                url, data=body, headers={"Content-Type": "application/json"}
            ) as resp:
                doc = await resp.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            key = f"error/{type(exc).__name__}"
        else:
            response = doc.get("response", {})
            verdict = "allowed" if response.get("allowed") else "denied"
            code = (response.get("status") or {}).get("code", "")
            key = f"{resp.status}/{verdict}{'/' + str(code) if code else ''}"
        phase.latencies.append(time.perf_counter() - sent)
        phase.results[key] = phase.results.get(key, 0) + 1

    began = time.perf_counter()
    tasks = []
    for i in range(min(int(rate * seconds), MAX_REQUESTS)):
        delay = began + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(mix[i % len(mix)])))
    await asyncio.gather(*tasks)
    phase.seconds = time.perf_counter() - began
    return phase


def client_session(ctx: ssl.SSLContext) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        # As many connections as requests in flight: the API server does not queue its webhook
        # calls behind a connection limit, so neither does this client.
        connector=aiohttp.TCPConnector(ssl=ctx, limit=0),
        timeout=aiohttp.ClientTimeout(total=5),  # the API server's timeoutSeconds
    )


async def run(rate: float, seconds: float) -> dict[str, Any]:
    mix = request_mix()
    with tempfile.TemporaryDirectory(prefix="zenflow-webhook-bench-") as tmp:
        bundle = renew(
            None,
            hosts=service_hosts("zenflow-webhook", "bench", ["127.0.0.1"]),
            now=dt.datetime.now(dt.UTC),
        )
        (Path(tmp) / "tls.crt").write_bytes(bundle.cert_pem)
        (Path(tmp) / "tls.key").write_bytes(bundle.key_pem)
        port = free_port()
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "zenflow", "webhook", "--webhook-cert-dir", tmp,
            "--webhook-port", str(port), "--webhook-bind-address", "127.0.0.1",
            "--no-authorize-flows", "--log-format", "json",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        ctx = ssl.create_default_context(cadata=bundle.ca_cert_pem.decode())
        url = f"https://127.0.0.1:{port}{VALIDATE_PATH}"
        try:
            async with client_session(ctx) as session:
                await wait_ready(session, f"https://127.0.0.1:{port}/readyz", server)
                await normal_load(session, url, mix[:3], rate=10, seconds=0.3)  # warm up
                phase = await normal_load(session, url, mix, rate=rate, seconds=seconds)
        finally:
            server.send_signal(signal.SIGTERM)
            await asyncio.wait_for(server.wait(), timeout=30)
    return {**phase.figures(), "mean_body_bytes": int(statistics.mean(len(b) for b in mix))}


# -- the attack run ----------------------------------------------------------------------------


class LeaseWatch:
    """Reads the controller's Lease every 0.25 s and keeps each new renewTime (and holder)."""

    def __init__(self, api: client.ApiClient) -> None:
        self._coordination = client.CoordinationV1Api(api)
        self.renewals: list[tuple[float, str]] = []  # (renewTime as epoch seconds, holder)
        self.errors: dict[str, int] = {}

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                lease = await self._coordination.read_namespaced_lease(LEASE[1], LEASE[0])
            except (client.ApiException, aiohttp.ClientError, TimeoutError, ValueError) as exc:
                kind = f"{type(exc).__name__} {getattr(exc, 'status', '')}".strip()
                self.errors[kind] = self.errors.get(kind, 0) + 1
                lease = None
            if lease is not None and lease.spec.renew_time is not None:
                renewed = lease.spec.renew_time.timestamp()
                if not self.renewals or self.renewals[-1][0] != renewed:
                    self.renewals.append((renewed, lease.spec.holder_identity or ""))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)

    def between(self, start: float, end: float) -> dict[str, Any]:
        times = [t for t, _ in self.renewals if start <= t <= end]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        missed = sum(round(g / RETRY_PERIOD) - 1 for g in gaps if g > 1.5 * RETRY_PERIOD)
        holders = {h for t, h in self.renewals if start <= t <= end}
        return {
            "read_errors": dict(self.errors),
            "renewals": len(times),
            "missed": missed,
            "max_gap_s": round(max(gaps), 2) if gaps else None,
            "holders": sorted(holders),
        }


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(c) for c in text)
    return found


def webhook_counters(metrics: str) -> dict[str, float]:
    wanted = re.compile(
        r"^(zenflow_webhook_(?:requests|connections_closed_by_guard|worker_restarts)_total)"
        r"\{([^}]*)\} (\S+)$"
    )
    out: dict[str, float] = {}
    for line in metrics.splitlines():
        match = wanted.match(line)
        if match and float(match.group(3)):
            key = f"{match.group(1).removeprefix('zenflow_webhook_')}{{{match.group(2)}}}"
            out[key] = out.get(key, 0.0) + float(match.group(3))
    return out


async def run_attack(
    *, rate: float, baseline_s: float, attack_s: float, isolation: str, attacker_nice: int = 19
) -> dict[str, Any]:
    plane = ControlPlane(node_agent=False)
    await asyncio.to_thread(plane.start)
    try:
        await asyncio.to_thread(plane.install_crds, REPO / "crds")
        return await _attack(plane, rate, baseline_s, attack_s, isolation, attacker_nice)
    finally:
        await asyncio.to_thread(plane.stop)


async def _attack(
    plane: ControlPlane,
    rate: float,
    baseline_s: float,
    attack_s: float,
    isolation: str,
    attacker_nice: int,
) -> dict[str, Any]:
    port, http_port = free_port(), free_port()
    log_path = plane.log_path("controller-bench")
    with log_path.open("w") as sink:
        controller = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "zenflow", "controller",
            "--kubeconfig", str(plane.kubeconfig_path),
            "--leader-election-namespace", LEASE[0],
            "--http-host", "127.0.0.1", "--http-port", str(http_port),
            "--log-format", "json", "--log-level", "warning",
            "--webhook-bind-address", "127.0.0.1", "--webhook-port", str(port),
            "--webhook-extra-san", "127.0.0.1", "--webhook-secret-namespace", "default",
            "--webhook-config-name", "", "--webhook-isolation", isolation,
            stdout=sink, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    api = new_api_client(await plane.load_client_configuration())
    stop_watch = asyncio.Event()
    watch = LeaseWatch(api)
    watcher = asyncio.create_task(watch.run(stop_watch))
    try:
        await create_templates(api)
        core = client.CoreV1Api(api)
        deadline = time.monotonic() + 120
        while True:
            try:
                secret = await core.read_namespaced_secret("zenflow-webhook-tls", "default")
                break
            except client.ApiException:
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                await asyncio.sleep(0.5)
        ca_pem = base64.b64decode(secret.data["ca.crt"])
        ca_file = plane.work_dir / "bench-webhook-ca.crt"
        ca_file.write_bytes(ca_pem)
        ctx = ssl.create_default_context(cadata=ca_pem.decode())
        url = f"https://127.0.0.1:{port}{VALIDATE_PATH}"
        mix = request_mix("admin", ("system:masters", "system:authenticated"))
        async with client_session(ctx) as session:
            await wait_ready(session, f"https://127.0.0.1:{port}/readyz", controller)
            await normal_load(session, url, mix[:3], rate=10, seconds=0.3)  # warm up
            began = time.time()
            baseline = await normal_load(session, url, mix, rate=rate, seconds=baseline_s)
            attack_began = time.time()
            attacker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "benchmarks.webhook_attack", "--port", str(port),
                "--ca", str(ca_file), "--seconds", str(attack_s), "--parallel", "8",
                "--half-open", "200", "--nice", str(attacker_nice),
                cwd=REPO, stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            under_attack = await normal_load(session, url, mix, rate=rate, seconds=attack_s)
            attacked = json.loads((await attacker.communicate())[0] or b"{}")
            attack_ended = time.time()
            metrics = ""
            with contextlib.suppress(aiohttp.ClientError):
                async with aiohttp.ClientSession() as plain:
                    metrics_url = f"http://127.0.0.1:{http_port}/metrics"
                    async with plain.get(metrics_url) as resp:
                        metrics = await resp.text()
        alive = controller.returncode is None
        memory: dict[str, Any] = {"controller_rss_mib": None, "worker_rss_mib": []}
        if alive:
            memory = {
                "controller_rss_mib": round(rss_mib(controller.pid), 1),
                "worker_rss_mib": [round(rss_mib(pid), 1) for pid in children(controller.pid)],
            }
        else:
            lost = [line for line in log_path.read_text().splitlines() if "leader" in line]
            memory["controller_exit"] = f"exit code {controller.returncode}; {lost[-2:]}"
    finally:
        stop_watch.set()
        await watcher
        await api.close()
        if controller.returncode is None:
            controller.send_signal(signal.SIGTERM)
        await asyncio.wait_for(controller.wait(), timeout=60)
    return {
        "isolation": isolation,
        "attacker_nice": attacker_nice,
        "baseline": {**baseline.figures(), "lease": watch.between(began, attack_began)},
        "attack": {
            **under_attack.figures(),
            "lease": watch.between(attack_began, attack_ended + RETRY_PERIOD),
        },
        "attacker": attacked,
        "server_counters": webhook_counters(metrics),
        "controller_alive_after_attack": alive,
        **memory,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("load", "attack"), default=None)
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of the run")
    parser.add_argument("--attack-seconds", type=float, default=30.0)
    parser.add_argument("--isolation", choices=("process", "thread"), default="process")
    parser.add_argument(
        "--attacker-nice", type=int, default=19, help="the attacker's CPU priority (nice)"
    )
    args = parser.parse_args()
    if args.only != "attack":
        print_load(asyncio.run(run(args.rate, args.seconds)))
    if args.only != "load":
        print_attack(
            asyncio.run(
                run_attack(
                    rate=args.rate,
                    baseline_s=args.seconds,
                    attack_s=min(args.attack_seconds, 300.0),
                    isolation=args.isolation,
                    attacker_nice=args.attacker_nice,
                )
            )
        )


def print_load(figures: dict[str, Any]) -> None:
    target = "ok" if figures["p99_ms"] <= 20.0 else "MISSED"
    print(
        f"webhook: {figures['requests']} reviews at {figures['achieved_rate']}/s over "
        f"{figures['seconds']} s, results {figures['results']}"
    )
    print(
        f"webhook latency: p50 {figures['p50_ms']} ms, p90 {figures['p90_ms']} ms, "
        f"p99 {figures['p99_ms']} ms (target <= 20 ms: {target}), max {figures['max_ms']} ms"
    )


def print_attack(figures: dict[str, Any]) -> None:
    for name in ("baseline", "attack"):
        phase = figures[name]
        lease = phase["lease"]
        target = "ok" if phase["p99_ms"] <= (20.0 if name == "baseline" else 100.0) else "MISSED"
        print(
            f"webhook {name} ({figures['isolation']} isolation, in `zenflow controller`): "
            f"{phase['requests']} normal reviews at {phase['achieved_rate']}/s, "
            f"results {phase['results']}"
        )
        print(
            f"  latency: p50 {phase['p50_ms']} ms, p90 {phase['p90_ms']} ms, p99 "
            f"{phase['p99_ms']} ms (target <= {20 if name == 'baseline' else 100} ms: {target}), "
            f"max {phase['max_ms']} ms"
        )
        print(
            f"  lease renewals: {lease['renewals']}, missed {lease['missed']} (target 0: "
            f"{'ok' if lease['missed'] == 0 else 'MISSED'}), longest gap {lease['max_gap_s']} s, "
            f"holders {lease['holders']}"
            + (f", Lease read errors {lease['read_errors']}" if lease["read_errors"] else "")
        )
    print(f"attacker (nice {figures['attacker_nice']}) saw: {figures['attacker']}")
    print(f"webhook counters: {figures['server_counters']}")
    print(
        f"controller alive after the attack: {figures['controller_alive_after_attack']}; RSS "
        f"controller {figures['controller_rss_mib']} MiB, review workers "
        f"{figures['worker_rss_mib']} MiB"
    )
    if "controller_exit" in figures:
        print(f"controller exited during the run: {figures['controller_exit']}")


if __name__ == "__main__":
    main()
