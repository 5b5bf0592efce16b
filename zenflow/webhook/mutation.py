"""The mutating answer (``POST /mutate``): record who created a JobFlow or CronJobFlow. Pure.

It only ever adds or restores ``workflow.zen.io/created-by`` (``zenflow.webhook.creator``) and
never denies what it can decode: judging the object is the validating path's job, which runs
after it and sees the patched object. Bodies that are not reviews get the same 4xx answers as on
the validating path, and nothing raises out of ``handle_mutation``.
"""

from __future__ import annotations

import base64
import json

from zenflow.webhook.admission import (
    Outcome,
    judged_request,
    parse_review,
    refusal,
    review_body,
)
from zenflow.webhook.creator import created_by_patch


def handle_mutation(body: bytes) -> Outcome:
    """Answer one AdmissionReview body on the mutating path. Never raises."""
    try:
        return _handle_mutation(body)
    except Exception as exc:  # RecursionError, MemoryError, a bug: refuse, never 500
        return refusal(
            body,
            code=400,
            reason="BadRequest",
            message=f"the review could not be processed: {type(exc).__name__}",
            result="error",
            error=repr(exc)[:500],
        )


def _handle_mutation(body: bytes) -> Outcome:
    parsed = parse_review(body)
    if isinstance(parsed, Outcome):
        return parsed
    judged = judged_request(parsed)
    if isinstance(judged, Outcome):
        return judged
    req, facts = judged
    ops = created_by_patch(
        old=req.old_object if req.operation == "UPDATE" else None,
        new=req.object or {},
        username=req.user_info.username,
    )
    patch = base64.b64encode(json.dumps(ops).encode()).decode() if ops else None
    return Outcome(
        http_status=200,
        body=review_body(req.uid, True, patch=patch),
        result="allowed",
        **facts,
    )
