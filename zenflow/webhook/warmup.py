"""A small valid JobFlow and its AdmissionReview, run once before the first real review so the
validator's lazily loaded parts (templating, the CEL compiler, retries) are ready: the API server
gives a review only ``timeoutSeconds``."""

from __future__ import annotations

import json
from typing import Any, Final

WARM_UP_FLOW: Final[dict[str, Any]] = {
    "apiVersion": "workflow.zen.io/v1alpha1",
    "kind": "JobFlow",
    "metadata": {"name": "warm-up"},
    "spec": {
        "params": [{"name": "p", "default": "x"}],
        "steps": [
            {"name": "a", "run": {"image": "busybox", "command": ["echo", "{{ params.p }}"]}},
            {
                "name": "b",
                "dependencies": ["a"],
                "when": "steps.a.phase == 'Succeeded'",
                "retryPolicy": {"limit": 1},
                "run": {"image": "busybox", "command": ["true"]},
            },
        ],
    },
}


def warm_up_review() -> bytes:
    """A CREATE review of ``WARM_UP_FLOW``, as the API server would send it."""
    request = {
        "uid": "warm-up",
        "kind": {"group": "workflow.zen.io", "version": "v1alpha1", "kind": "JobFlow"},
        "resource": {"group": "workflow.zen.io", "version": "v1alpha1", "resource": "jobflows"},
        "operation": "CREATE",
        "namespace": "warm-up",
        "userInfo": {"username": "warm-up"},
        "object": WARM_UP_FLOW,
    }
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    return json.dumps(review).encode()
