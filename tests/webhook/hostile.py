"""Reviews a hostile tenant would send, shared by the webhook's tests.

``expensive_flow`` is a JobFlow within every size limit (spec under 256 KiB) whose validation
costs seconds of CPU: 230 distinct `when` expressions near the length limit, each compiled once
(``tag`` makes them distinct from any earlier call, defeating the compile cache).
"""

from __future__ import annotations

import json
from typing import Any

_CLAUSE = "(params.p == 'x' || steps.s0.phase != 'Failed')"


def expensive_flow(tag: str, *, steps: int = 230) -> dict[str, Any]:
    base = " && ".join([_CLAUSE] * 20)[:900]
    base = base[: base.rfind(" &&")]
    out: list[dict[str, Any]] = [{"name": "s0", "run": {"image": "busybox"}}]
    for i in range(1, steps):
        out.append(
            {
                "name": f"s{i}",
                "dependencies": ["s0"],
                "when": base.replace("'x'", f"'x{tag}-{i}'"),
                "run": {"image": "busybox"},
            }
        )
    return {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "metadata": {"name": "expensive"},
        "spec": {"params": [{"name": "p", "default": "x"}], "steps": out},
    }


def review_of(
    obj: dict[str, Any], *, uid: str, user: str = "alice", namespace: str = "ns"
) -> bytes:
    """A CREATE AdmissionReview as the API server writes it (``request.uid`` first)."""
    request = {
        "uid": uid,
        "kind": {"group": "workflow.zen.io", "version": "v1alpha1", "kind": obj["kind"]},
        "resource": {
            "group": "workflow.zen.io",
            "version": "v1alpha1",
            "resource": obj["kind"].lower() + "s",
        },
        "operation": "CREATE",
        "namespace": namespace,
        "userInfo": {"username": user, "groups": ["system:authenticated"]},
        "object": obj,
    }
    return json.dumps(
        {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": request}
    ).encode()
