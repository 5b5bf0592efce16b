"""Step readiness (zenflow.core.planning.readiness) as DESIGN.md defines it, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from zenflow.api.jobflow import Step
from zenflow.api.status import StepStatus
from zenflow.core.planning.readiness import decide_readiness


def st(name: str, phase: str, reason: str | None = None) -> StepStatus:
    return StepStatus.model_validate({"name": name, "phase": phase, "reason": reason})


@pytest.mark.parametrize(
    ("extra", "deps", "cof", "verdict", "reason"),
    [
        pytest.param({}, [st("a", "Running")], {}, "wait", None, id="dep-running"),
        pytest.param({}, [st("a", "Retrying")], {}, "wait", None, id="dep-retrying"),
        pytest.param({}, [st("a", "Succeeded")], {}, "run", None, id="dep-succeeded"),
        pytest.param({}, [st("a", "Skipped", "WhenFalse")], {}, "run", None, id="dep-when-skip"),
        pytest.param(
            {}, [st("a", "Skipped", "UpstreamFailed")], {}, "skip", "UpstreamSkipped", id="dep-skip"
        ),
        pytest.param({}, [st("a", "Failed")], {}, "skip", "UpstreamFailed", id="dep-failed"),
        pytest.param({}, [st("a", "Failed")], {"a": True}, "run", None, id="dep-failed-cof"),
        pytest.param({"when": "true"}, [st("a", "Failed")], {}, "run", None, id="when-always"),
        pytest.param(
            {"when": "params.env == 'prod'"},
            [st("a", "Succeeded")],
            {},
            "skip",
            "WhenFalse",
            id="when-param",
        ),
        pytest.param(
            {"when": "steps.a.retries > 0"},
            [st("a", "Succeeded")],
            {},
            "skip",
            "WhenFalse",
            id="when-retries",
        ),
        pytest.param(
            {"when": "nope.x"}, [st("a", "Succeeded")], {}, "error", "WhenError", id="when-error"
        ),
    ],
)
def test_decide_readiness(
    extra: dict[str, Any],
    deps: list[StepStatus],
    cof: dict[str, bool],
    verdict: str,
    reason: str | None,
) -> None:
    step = Step.model_validate(
        {"name": "b", "run": {"image": "x"}, "dependencies": [d.name for d in deps], **extra}
    )
    result = decide_readiness(
        step=step,
        statuses={d.name: d for d in deps},
        continue_on_failure=cof,
        params={"env": "dev"},
        flow={"name": "f", "namespace": "ns", "uid": "u"},
    )
    assert (result.verdict, result.reason) == (verdict, reason)
