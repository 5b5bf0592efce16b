"""The verdict on a flow that uses templates, once its templates are read: pure CPU, no I/O.

``judge(outcome, found)`` takes the review worker's answer for a JobFlow or CronJobFlow that
refers to templates (``Outcome.templates``) and the templates read for it, runs the shared
validator on the resolved flow (``zenflow.core.validation.templated``) and answers the final
``Outcome``: a 422 denial naming every problem (a missing template, a reference that does not
fit it, a problem of the resolved flow), or the admitted outcome with the access its author
needs recomputed from the resolved flow (a ServiceAccount or claim a template brings counts).

It runs where the reviews run (``ReviewExecutor.judge_templates``): in a review worker process
by default, so a resolved flow's validation never holds the server's event loop (or the
controller sharing it); the server only reads the templates. ``unjudged`` is the refusal when it
cannot finish (the flow is refused, never admitted unjudged).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, Final, Literal

from zenflow.core.flowtemplates.resolve import TemplateKey
from zenflow.core.validation.templated import validate_resolved, with_spec
from zenflow.webhook.access import required_access
from zenflow.webhook.admission import Outcome, failed, invalid

Found = Mapping[TemplateKey, Mapping[str, Any]]


def judge(outcome: Outcome, found: Found) -> Outcome:
    """``outcome`` (an admitted review using templates) judged against the ``found`` ones."""
    use = outcome.templates
    if outcome.result != "allowed" or use is None:
        return outcome
    report, resolution = validate_resolved(use.obj, found, namespace=use.namespace)
    if not report.ok:
        return invalid(outcome, [str(p) for p in report.errors])
    if resolution is None or resolution.spec is None:
        return outcome
    resolved = required_access(outcome.kind, use.namespace, with_spec(use.obj, resolution.spec))
    if outcome.access is None:
        return replace(outcome, access=resolved)
    known = set(outcome.access.requirements)
    extra = tuple(r for r in resolved.requirements if r not in known)
    access = replace(
        outcome.access,
        requirements=outcome.access.requirements + extra,
        problems=tuple(dict.fromkeys(outcome.access.problems + resolved.problems)),
    )
    return replace(outcome, access=access)


Judge = Callable[[Outcome, Found], Awaitable[Outcome]]
"""Where the server has ``judge`` run for one review (its executor, under the review's place and
deadline)."""


Unjudged = Literal["busy", "error", "timeout"]
"""Why a review could not be judged: no room in the long-review lane, its worker failed, or its
time budget ran out (also the ``Result`` the refusal is counted as)."""

_UNJUDGED: Final[dict[Unjudged, tuple[int, str, str]]] = {
    "timeout": (
        504,
        "Timeout",
        "the flow could not be validated with its templates within the webhook's time budget; "
        "the object is refused, try again",
    ),
    "busy": (
        429,
        "TooManyRequests",
        "validating the flow with its templates needs more than a fast-lane slice and the "
        "webhook's queue for long reviews is full; retry later",
    ),
    "error": (
        503,
        "ServiceUnavailable",
        "the worker process validating the flow with its templates failed; retry",
    ),
}


def unjudged(outcome: Outcome, why: Unjudged, error: str = "") -> Outcome:
    """``outcome`` refused because ``judge`` could not run to its end (never admitted unjudged)."""
    code, reason, message = _UNJUDGED[why]
    return failed(outcome, code=code, reason=reason, message=message, result=why, error=error)
