"""Benchmark: work-queue throughput and informer event-to-handler latency.

Run: ``.venv/bin/python -m benchmarks.machinery_bench [--events N] [--no-control-plane]``.
Not a timed test: it prints figures.

1. Queue: adds/s (with dedup of repeated keys) and get+done/s through one worker, on the
   rate-limiting queue with its default limiter; add_rate_limited+fire/s with a fake clock.
2. Informer: a ConfigMap informer on a local control plane (etcd + kube-apiserver); each
   write's latency from the moment its request returned (and from the moment it was sent) to the
   moment the update handler ran, p50/p99/max.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from typing import Any

from zenflow.machinery.clock import FakeClock
from zenflow.machinery.ratelimiting import RateLimitingQueue


def _per_second(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


async def bench_queue(*, keys: int = 10_000, rounds: int = 20) -> None:
    q: RateLimitingQueue[str] = RateLimitingQueue("bench")
    names = [f"ns/flow-{i}" for i in range(keys)]
    started = time.perf_counter()
    for _ in range(rounds):
        for name in names:
            q.add(name)
    add_s = time.perf_counter() - started
    print(f"queue add (x{rounds} per key, deduplicated): {_per_second(keys * rounds, add_s)}")

    started = time.perf_counter()
    handed = 0
    while q.len():
        key = await q.get()
        assert key is not None
        q.done(key)
        handed += 1
    get_s = time.perf_counter() - started
    print(f"queue get+done, 1 worker: {_per_second(handed, get_s)} ({handed} keys)")

    async def worker() -> int:
        n = 0
        while (key := await q.get()) is not None:
            q.done(key)
            n += 1
        return n

    workers = [asyncio.create_task(worker()) for _ in range(8)]
    started = time.perf_counter()
    for _ in range(rounds):
        for name in names:
            q.add(name)
        await asyncio.sleep(0)
    q.shutdown()
    total = sum(await asyncio.gather(*workers))
    mixed_s = time.perf_counter() - started
    print(f"queue add+get+done, 8 workers interleaved: {_per_second(total, mixed_s)} handed out")

    clock = FakeClock()
    rq: RateLimitingQueue[str] = RateLimitingQueue("bench-rl", clock=clock)
    started = time.perf_counter()
    for name in names:
        rq.add_rate_limited(name)
    clock.advance(3600)
    rl_s = time.perf_counter() - started
    assert rq.len() == keys
    print(f"queue add_rate_limited + timer fire: {_per_second(keys, rl_s)}")


def _quantiles(values: list[float]) -> str:
    ordered = sorted(values)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, max {ordered[-1] * 1000:.2f} ms"


async def bench_informer(*, events: int) -> None:
    from kubernetes_asyncio import client

    from zenflow.envtest.controlplane import ControlPlane
    from zenflow.kube.client import new_api_client
    from zenflow.kube.listwatch import KubeListerWatcher
    from zenflow.machinery.informer import Informer

    plane = ControlPlane(node_agent=False)
    await asyncio.to_thread(plane.start)
    try:
        api = new_api_client(await plane.load_client_configuration())
        try:
            core = client.CoreV1Api(api)
            namespace: Any = {"metadata": {"name": "bench"}}
            await core.create_namespace(namespace)
            informer = Informer(
                KubeListerWatcher(
                    api, group="", version="v1", plural="configmaps", namespace="bench"
                )
            )
            seen: dict[str, float] = {}
            arrived = asyncio.Event()

            def on_change(obj: dict[str, Any]) -> None:
                value = (obj.get("data") or {}).get("v")
                if value is not None:
                    seen[value] = time.perf_counter()
                    arrived.set()

            informer.add_event_handler(on_change, lambda old, new: on_change(new))
            task = asyncio.create_task(informer.run())
            await informer.wait_synced()
            probe: Any = {"metadata": {"name": "probe"}, "data": {"v": "start"}}
            await core.create_namespaced_config_map("bench", probe)
            sent: dict[str, float] = {}
            returned: dict[str, float] = {}
            for i in range(events):
                value = str(i)
                arrived.clear()
                sent[value] = time.perf_counter()
                await core.patch_namespaced_config_map("probe", "bench", {"data": {"v": value}})
                returned[value] = time.perf_counter()
                # Writes are sequential: the handler latency of one is not queued behind others.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(10):
                        while value not in seen:
                            await arrived.wait()
                            arrived.clear()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        finally:
            await api.close()
    finally:
        await asyncio.to_thread(plane.stop)
    got = [v for v in sent if v in seen]
    print(f"informer: {len(got)}/{events} updates observed")
    if got:
        print("  write returned -> handler: " + _quantiles([seen[v] - returned[v] for v in got]))
        print("  write sent     -> handler: " + _quantiles([seen[v] - sent[v] for v in got]))


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--no-control-plane", action="store_true")
    args = parser.parse_args(argv)
    await bench_queue()
    if not args.no_control_plane:
        await bench_informer(events=args.events)


if __name__ == "__main__":
    asyncio.run(main())
