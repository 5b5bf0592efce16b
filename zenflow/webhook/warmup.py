"""A small valid JobFlow and CronJobFlow and their AdmissionReviews, judged once before the first
real review so the validator's lazily loaded parts (templating, the CEL compiler, retries; cron
schedules and time zones) are ready: the API server gives a review only ``timeoutSeconds``, and
the first flow to need them would otherwise pay ~170 ms for them."""

from __future__ import annotations

import json
from typing import Any, Final

from zenflow.api.constants import (
    API_VERSION,
    CRONJOBFLOW_KIND,
    CRONJOBFLOW_PLURAL,
    GROUP,
    JOBFLOW_KIND,
    JOBFLOW_PLURAL,
    VERSION,
)

WARM_UP_FLOW: Final[dict[str, Any]] = {
    "apiVersion": API_VERSION,
    "kind": JOBFLOW_KIND,
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

WARM_UP_CRONJOBFLOW: Final[dict[str, Any]] = {
    "apiVersion": API_VERSION,
    "kind": CRONJOBFLOW_KIND,
    "metadata": {"name": "warm-up"},
    "spec": {
        "schedule": "0 2 * * *",
        "timeZone": "Europe/Paris",
        "jobFlowTemplate": {"spec": WARM_UP_FLOW["spec"]},
    },
}

WARM_UP_OBJECTS: Final = (WARM_UP_FLOW, WARM_UP_CRONJOBFLOW)
"""One object of each kind the webhook judges."""

_RESOURCES: Final = {JOBFLOW_KIND: JOBFLOW_PLURAL, CRONJOBFLOW_KIND: CRONJOBFLOW_PLURAL}


def warm_up_reviews() -> list[bytes]:
    """A CREATE review of each of ``WARM_UP_OBJECTS``, as the API server would send it."""
    return [_review(obj) for obj in WARM_UP_OBJECTS]


def _review(obj: dict[str, Any]) -> bytes:
    kind = obj["kind"]
    request = {
        "uid": "warm-up",
        "kind": {"group": GROUP, "version": VERSION, "kind": kind},
        "resource": {"group": GROUP, "version": VERSION, "resource": _RESOURCES[kind]},
        "operation": "CREATE",
        "namespace": "warm-up",
        "userInfo": {"username": "warm-up"},
        "object": obj,
    }
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    return json.dumps(review).encode()
