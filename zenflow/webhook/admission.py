"""AdmissionReview v1 handling: bytes in, (HTTP status, JSON body, decision facts) out. Pure.

Invariants:
- Every well-formed review for a JobFlow or CronJobFlow gets HTTP 200 and a response echoing its
  ``uid``; a denial's ``status.message`` carries every field-named problem, its
  ``status.details.causes`` one entry per problem, and the validator's warnings go in
  ``response.warnings``.
- Anything that is not such a review (bad JSON, another apiVersion/kind, a resource we do not
  validate, a body over ``MAX_BODY_BYTES``) gets a 4xx with a ``Status`` body naming the problem.
  Nothing raises out of ``handle_review``: a crash in the validator denies the request (fail
  closed, like ``failurePolicy: Fail``) and is reported as result ``error``.
- On UPDATE, validation problems deny only when the spec changed: metadata-only updates
  (finalizers, labels, action annotations) of an object stored before a rule tightened still go
  through, so the controller can always finish and clean up what exists.
- A body that cannot even be decoded (nested deeper than the decoder allows, ...) is a denial
  when its ``request.uid`` can be read off its first bytes (``sniff_uid``), else a 400; any
  other exception inside is a denial (result ``error``), never a 500.
- An allowed CREATE, or an UPDATE that changes the spec, carries the ``AccessPlan`` of what its
  author must be allowed to do (``zenflow.webhook.access``); the server checks it (it needs the
  API server). The ``created-by`` annotation follows ``zenflow.webhook.creator``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zenflow.api.constants import CRONJOBFLOW_KIND, GROUP, JOBFLOW_KIND
from zenflow.webhook.access import AccessPlan, Requirement, required_access
from zenflow.webhook.approvals import check_approvals
from zenflow.webhook.creator import check_created_by
from zenflow.webhook.templateuse import TemplateUse, template_use
from zenflow.webhook.update_rules import Approval, check_jobflow_update

MAX_BODY_BYTES: Final = 3 * 1024 * 1024
REVIEW_API_VERSION: Final = "admission.k8s.io/v1"
HANDLED_KINDS: Final = frozenset({JOBFLOW_KIND, CRONJOBFLOW_KIND})
HANDLED_RESOURCES: Final = frozenset({"jobflows", "cronjobflows"})
# The API server writes AdmissionReview fields in declaration order: request.uid comes first.
_UID_PREFIX: Final = re.compile(rb'"request"\s*:\s*\{\s*"uid"\s*:\s*"([A-Za-z0-9._:-]{1,128})"')
_SNIFF_BYTES: Final = 64 * 1024

Result = Literal["allowed", "denied", "forbidden", "rejected", "error", "busy", "timeout"]
"""allowed/denied: the validator's verdict; forbidden: the author lacks a permission the flow
needs; rejected: not a review we judge (4xx); error: the review could not be processed; busy:
refused unread because the webhook is at capacity; timeout: past the review's time budget."""


class ReportLike(Protocol):
    """What the shared validator returns (``zenflow.core.validation.ValidationReport``)."""

    @property
    def errors(self) -> Sequence[object]: ...

    @property
    def warnings(self) -> Sequence[object]: ...


Validator = Callable[[Mapping[str, Any]], ReportLike]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class GroupVersionKind(_Loose):
    group: str = ""
    version: str = ""
    kind: str = ""


class GroupVersionResource(_Loose):
    group: str = ""
    version: str = ""
    resource: str = ""


class UserInfo(_Loose):
    username: str = ""
    uid: str = ""
    groups: list[str] = Field(default_factory=list)
    extra: dict[str, list[str]] = Field(default_factory=dict)


@dataclass(frozen=True)
class Requester:
    """The requesting user as the API server authenticated them (for SubjectAccessReviews)."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, info: UserInfo) -> Requester:
        return cls(
            username=info.username,
            uid=info.uid,
            groups=tuple(info.groups),
            extra=tuple((k, tuple(v)) for k, v in sorted(info.extra.items())),
        )


class AdmissionRequest(_Loose):
    uid: str = Field(min_length=1)
    kind: GroupVersionKind
    resource: GroupVersionResource
    sub_resource: str = Field(default="", alias="subResource")
    operation: str
    name: str = ""
    namespace: str = ""
    user_info: UserInfo = Field(default_factory=UserInfo, alias="userInfo")
    object: dict[str, Any] | None = None
    old_object: dict[str, Any] | None = Field(default=None, alias="oldObject")
    dry_run: bool = Field(default=False, alias="dryRun")


class AdmissionReview(_Loose):
    api_version: str = Field(alias="apiVersion")
    kind: str
    request: AdmissionRequest


@dataclass(frozen=True)
class Outcome:
    """What the server sends back, plus the facts it logs and counts."""

    http_status: int
    body: dict[str, Any]
    result: Result
    kind: str = "unknown"
    operation: str = "unknown"
    namespace: str = ""
    name: str = ""
    username: str = ""
    messages: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    approval: Approval | None = None
    error: str = ""
    uid: str = ""
    requester: Requester | None = None
    access: AccessPlan | None = None
    templates: TemplateUse | None = None
    """Set on an admitted flow whose spec refers to templates: the server reads them
    (``zenflow.webhook.templates``) and has what the flow will run validated
    (``zenflow.webhook.templatejudge``)."""


def status_body(code: int, reason: str, message: str) -> dict[str, Any]:
    """A ``meta/v1 Status`` failure body, for answers that are not AdmissionReviews."""
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }


def _rejected(code: int, reason: str, message: str) -> Outcome:
    return Outcome(http_status=code, body=status_body(code, reason, message), result="rejected")


def review_body(
    uid: str,
    allowed: bool,
    *,
    warnings: Sequence[str] = (),
    status: Any = None,
    patch: str | None = None,
) -> dict[str, Any]:
    """An AdmissionReview response; ``patch`` is a base64 JSON Patch (mutating answers)."""
    response: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if warnings:
        response["warnings"] = list(warnings)
    if status is not None:
        response["status"] = status
    if patch is not None:
        response["patchType"] = "JSONPatch"
        response["patch"] = patch
    return {"apiVersion": REVIEW_API_VERSION, "kind": "AdmissionReview", "response": response}


def _what(kind: str, name: str) -> str:
    return f'{kind} "{name}"' if name else kind


def _denial_status(kind: str, name: str, problems: Sequence[str]) -> dict[str, Any]:
    causes = []
    for problem in problems:
        path, sep, message = problem.partition(": ")
        causes.append(
            {"type": "FieldValueInvalid", "field": path, "message": message}
            if sep
            else {"type": "FieldValueInvalid", "message": problem}
        )
    return {
        "status": "Failure",
        "code": 422,
        "reason": "Invalid",
        "message": f"{_what(kind, name)} is invalid: " + "; ".join(problems),
        "details": {"kind": kind, "name": name, "group": GROUP, "causes": causes},
    }


def sniff_uid(body: bytes) -> str:
    """``request.uid`` read off the first bytes of a review the API server wrote, without
    decoding it (for answering bodies that cannot be, or were not yet, decoded); "" if absent."""
    match = _UID_PREFIX.search(body[:_SNIFF_BYTES])
    return match.group(1).decode() if match else ""


def refusal(
    body: bytes, *, code: int, reason: str, message: str, result: Result, error: str = ""
) -> Outcome:
    """A denial of the review in ``body`` when its uid can be sniffed, else a ``code`` Status.

    For answers decided before (or instead of) decoding: overload, time budget, undecodable."""
    uid = sniff_uid(body)
    if not uid:
        return Outcome(
            http_status=code,
            body=status_body(code, reason, message),
            result=result,
            messages=(message,),
            error=error,
        )
    status = {"status": "Failure", "code": code, "reason": reason, "message": message}
    return Outcome(
        http_status=200,
        body=review_body(uid, False, status=status),
        result=result,
        messages=(message,),
        error=error,
        uid=uid,
    )


def invalid(outcome: Outcome, problems: Sequence[str]) -> Outcome:
    """``outcome`` (an allowed review) turned into a 422 denial naming each problem."""
    status = _denial_status(outcome.kind, outcome.name, problems)
    return replace(
        outcome,
        body=review_body(outcome.uid, False, warnings=outcome.warnings, status=status),
        result="denied",
        messages=tuple(problems),
    )


def forbidden(outcome: Outcome, problems: Sequence[str]) -> Outcome:
    """``outcome`` (an allowed review) turned into a 403 denial naming each missing permission."""
    message = f"{_what(outcome.kind, outcome.name)} is forbidden: " + "; ".join(problems)
    status = {
        "status": "Failure",
        "code": 403,
        "reason": "Forbidden",
        "message": message,
        "details": {"kind": outcome.kind, "name": outcome.name, "group": GROUP},
    }
    return replace(
        outcome,
        body=review_body(outcome.uid, False, warnings=outcome.warnings, status=status),
        result="forbidden",
        messages=tuple(problems),
    )


def failed(
    outcome: Outcome, *, code: int, reason: str, message: str, result: Result, error: str = ""
) -> Outcome:
    """``outcome`` (an allowed review) refused because judging it could not be finished (a
    worker lost, the time budget spent, no room): like ``refusal``, for a decoded review."""
    status = {"status": "Failure", "code": code, "reason": reason, "message": message}
    return replace(
        outcome,
        body=review_body(outcome.uid, False, warnings=outcome.warnings, status=status),
        result=result,
        messages=(message,),
        error=error,
    )


def parse_review(body: bytes) -> AdmissionReview | Outcome:
    """Parse and check the envelope; an ``Outcome`` is a 4xx answer explaining what is wrong."""
    if len(body) > MAX_BODY_BYTES:
        return _rejected(
            413, "RequestEntityTooLarge", f"body of {len(body)} bytes exceeds {MAX_BODY_BYTES}"
        )
    try:
        doc = json.loads(body)
    except RecursionError:
        return refusal(
            body,
            code=400,
            reason="BadRequest",
            message="body is nested too deeply to decode; objects are refused, not stored",
            result="rejected",
        )
    except (ValueError, UnicodeDecodeError) as exc:
        return _rejected(400, "BadRequest", f"body is not valid JSON: {exc}")
    if not isinstance(doc, dict):
        return _rejected(400, "BadRequest", "body must be a JSON object (an AdmissionReview)")
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if kind != "AdmissionReview" or api_version != REVIEW_API_VERSION:
        return _rejected(
            400,
            "BadRequest",
            f"expected kind AdmissionReview in {REVIEW_API_VERSION}, got kind {kind!r} "
            f"in apiVersion {api_version!r}",
        )
    try:
        return AdmissionReview.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(
            ".".join(str(p) for p in err["loc"]) + ": " + err["msg"] for err in exc.errors()
        )
        return _rejected(400, "BadRequest", f"malformed AdmissionReview: {problems}")


def judged_request(parsed: AdmissionReview) -> tuple[AdmissionRequest, dict[str, Any]] | Outcome:
    """The request when it is a CREATE/UPDATE of one of our kinds, with the facts every answer
    to it carries; otherwise the answer itself (400 for foreign kinds, allowed for the rest)."""
    req = parsed.request
    facts: dict[str, Any] = {
        "kind": req.kind.kind if req.kind.kind in HANDLED_KINDS else "unknown",
        "operation": req.operation if req.operation in {"CREATE", "UPDATE"} else "other",
        "namespace": req.namespace,
        "name": req.name,
        "username": req.user_info.username,
        "uid": req.uid,
        "requester": Requester.of(req.user_info),
    }
    if req.kind.group != GROUP or req.kind.kind not in HANDLED_KINDS:
        return Outcome(
            http_status=400,
            body=status_body(
                400,
                "BadRequest",
                f"this webhook validates {', '.join(sorted(HANDLED_KINDS))} in {GROUP}; "
                f"got kind {req.kind.kind!r} in group {req.kind.group!r}",
            ),
            result="rejected",
            **facts,
        )
    if req.operation not in {"CREATE", "UPDATE"} or req.sub_resource:
        # DELETE/CONNECT and subresources (status, scale) are not ours to judge.
        return Outcome(http_status=200, body=review_body(req.uid, True), result="allowed", **facts)
    obj = req.object
    if obj is None or (req.operation == "UPDATE" and req.old_object is None):
        return Outcome(
            http_status=400,
            body=status_body(
                400, "BadRequest", f"{req.operation} review carries no object (or no oldObject)"
            ),
            result="rejected",
            **facts,
        )
    facts["name"] = req.name or str((obj.get("metadata") or {}).get("name") or "")
    return req, facts


def handle_review(body: bytes, *, validate: Validator) -> Outcome:
    """Answer one AdmissionReview body. Never raises."""
    try:
        return _handle_review(body, validate)
    except Exception as exc:  # RecursionError in pydantic, MemoryError, a bug: deny, never 500
        return refusal(
            body,
            code=400,
            reason="BadRequest",
            message=f"the review could not be processed: {type(exc).__name__}",
            result="error",
            error=repr(exc)[:500],
        )


def _handle_review(body: bytes, validate: Validator) -> Outcome:
    parsed = parse_review(body)
    if isinstance(parsed, Outcome):
        return parsed
    judged = judged_request(parsed)
    if isinstance(judged, Outcome):
        return judged
    req, facts = judged
    obj = req.object or {}
    name = facts["name"]
    try:
        report = validate(obj)
        problems = [str(p) for p in report.errors]
        warnings = [str(w) for w in report.warnings]
    except Exception as exc:  # a validator bug must deny, not crash the server
        message = f"internal error while validating: {type(exc).__name__}: {exc}"[:1000]
        return Outcome(
            http_status=200,
            body=review_body(req.uid, False, status=_denial_status(req.kind.kind, name, [message])),
            result="error",
            messages=(message,),
            error=repr(exc)[:500],
            **facts,
        )

    approval: Approval | None = None
    approver_checks: tuple[Requirement, ...] = ()
    old_object = req.old_object if req.operation == "UPDATE" else None
    spec_changed = old_object is None or old_object.get("spec") != obj.get("spec")
    if req.kind.kind == JOBFLOW_KIND:
        # On CREATE the "old" object is empty: nothing has started, and an approve annotation
        # given at creation is audited like one added later.
        check = check_jobflow_update(
            old=old_object or {},
            new=obj,
            username=req.user_info.username,
            groups=tuple(req.user_info.groups),
        )
        problems = (problems if spec_changed else []) + list(check.problems)
        warnings.extend(check.warnings)
        approval = check.approval
        decisions = check_approvals(
            old=old_object or {},
            new=obj,
            namespace=req.namespace,
            name=name,
            username=req.user_info.username,
            groups=tuple(req.user_info.groups),
        )
        problems += decisions.problems
        warnings.extend(decisions.audits)
        approver_checks = decisions.requirements
    elif not spec_changed:
        problems = []
    problems += check_created_by(old=old_object, new=obj, username=req.user_info.username)

    if problems:
        return Outcome(
            http_status=200,
            body=review_body(
                req.uid,
                False,
                warnings=warnings,
                status=_denial_status(req.kind.kind, name, problems),
            ),
            result="denied",
            messages=tuple(problems),
            warnings=tuple(warnings),
            approval=approval,
            **facts,
        )
    return Outcome(
        http_status=200,
        body=review_body(req.uid, True, warnings=warnings),
        result="allowed",
        warnings=tuple(warnings),
        approval=approval,
        access=_access(req.kind.kind, req.namespace, obj, spec_changed, approver_checks),
        templates=template_use(obj, namespace=req.namespace) if spec_changed else None,
        **facts,
    )


def _access(
    kind: str,
    namespace: str,
    obj: Mapping[str, Any],
    spec_changed: bool,
    approver_checks: tuple[Requirement, ...],
) -> AccessPlan | None:
    """What the server must check as the requester: the flow's needs when its spec changed,
    plus the RBAC verb approve for approvals the step's policy leaves to RBAC."""
    plan = required_access(kind, namespace, obj) if spec_changed else None
    if not approver_checks:
        return plan
    if plan is None:
        return AccessPlan(namespace, approver_checks)
    return replace(plan, requirements=plan.requirements + approver_checks)
