"""Benchmark: admission webhook latency under load (target: p99 <= 20 ms at 50 requests/s).

Run: ``.venv/bin/python -m benchmarks.webhook_bench [--rate 50] [--seconds 10]``. Not a timed
test: it prints figures. Loopback only, bounded in count and time.

The real server (``zenflow webhook``: TLS, the shared validator, metrics, one JSON log line per
decision) runs as its own process on 127.0.0.1 with a freshly generated certificate, as it runs
beside the API server in a cluster; a client verifying that certificate sends AdmissionReviews at
a fixed rate (open loop: a request's send time never waits for the previous answer, as the
apiserver's calls do not) over keep-alive connections. The mix cycles through every
JobFlow/CronJobFlow in examples/ as CREATE, each as an UPDATE of itself, and one broken flow per
ten requests (a denial with messages). Latency is measured at the client, from send to the full
response body.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import signal
import socket
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from zenflow.certs import renew, service_hosts
from zenflow.webhook.server import VALIDATE_PATH

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MAX_REQUESTS = 5_000  # hard bound whatever the flags say


def _review(obj: dict[str, Any], *, operation: str, uid: int) -> bytes:
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
        "namespace": "bench",
        "userInfo": {"username": "bench", "groups": ["system:authenticated"]},
        "object": obj,
        "oldObject": obj if operation == "UPDATE" else None,
    }
    return json.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    ).encode()


def request_mix() -> list[bytes]:
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
        mix.append(_review(flow, operation="UPDATE" if i >= len(flows) else "CREATE", uid=i))
        if i % 9 == 8:
            mix.append(_review(broken, operation="CREATE", uid=i))
    return mix


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(
    session: aiohttp.ClientSession, url: str, server: asyncio.subprocess.Process
) -> None:
    deadline = time.monotonic() + 30
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


async def run(rate: float, seconds: float) -> dict[str, Any]:
    total = min(int(rate * seconds), MAX_REQUESTS)
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
            "--log-format", "json",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        ctx = ssl.create_default_context(cadata=bundle.ca_cert_pem.decode())
        url = f"https://127.0.0.1:{port}{VALIDATE_PATH}"
        latencies: list[float] = []
        results: dict[str, int] = {}
        try:
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=ctx, limit=16),
                timeout=aiohttp.ClientTimeout(total=5),
            ) as session:

                async def one(body: bytes) -> None:
                    sent = time.perf_counter()
                    async with session.post(
                        url, data=body, headers={"Content-Type": "application/json"}
                    ) as resp:
                        doc = await resp.json()
                    latencies.append(time.perf_counter() - sent)
                    allowed = doc.get("response", {}).get("allowed")
                    key = f"{resp.status}/{'allowed' if allowed else 'denied'}"
                    results[key] = results.get(key, 0) + 1

                await wait_ready(session, f"https://127.0.0.1:{port}/readyz", server)
                for body in mix[:3]:  # warm up: TLS handshake, imports, first validation
                    await one(body)
                latencies.clear()
                results.clear()
                began = time.perf_counter()
                tasks = []
                for i in range(total):
                    delay = began + i / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(one(mix[i % len(mix)])))
                await asyncio.gather(*tasks)
                elapsed = time.perf_counter() - began
        finally:
            server.send_signal(signal.SIGTERM)
            await asyncio.wait_for(server.wait(), timeout=30)
    ms = [v * 1000 for v in latencies]
    return {
        "requests": len(ms),
        "seconds": round(elapsed, 2),
        "achieved_rate": round(len(ms) / elapsed, 1),
        "results": results,
        "p50_ms": round(statistics.median(ms), 2),
        "p90_ms": round(percentile(ms, 0.90), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
        "mean_body_bytes": int(statistics.mean(len(b) for b in mix)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of the run")
    args = parser.parse_args()
    figures = asyncio.run(run(args.rate, args.seconds))
    target = "ok" if figures["p99_ms"] <= 20.0 else "MISSED"
    print(
        f"webhook: {figures['requests']} reviews at {figures['achieved_rate']}/s over "
        f"{figures['seconds']} s, results {figures['results']}"
    )
    print(
        f"webhook latency: p50 {figures['p50_ms']} ms, p90 {figures['p90_ms']} ms, "
        f"p99 {figures['p99_ms']} ms (target <= 20 ms: {target}), max {figures['max_ms']} ms"
    )


if __name__ == "__main__":
    main()
