"""Parsed and validated JobFlows for the reconciler, cached by (uid, generation).

The spec is validated with the shared validator (the one the webhook and ``zenflow validate``
run) once per generation; the status is parsed at every reconcile (it changes every time). An
invalid flow raises ``InvalidFlowError`` carrying the validator's messages, which the
reconciler records on the flow.

Memory: a parsed spec is many times the size of its JSON, so it is kept only while the flow
will be reconciled again at the same generation soon (``keep_spec``): running flows (every
event of their Jobs) and flows queued behind a peer. Finished flows need no spec, and an idle
suspended flow only resumes through a spec edit (a new generation, parsed afresh anyway); the
reconciler forgets theirs. The cache is also a bounded LRU. Flows whose specs are equal (the
runs of one CronJobFlow, flows stamped from one template or SDK function) share one parsed
spec (``SharedSpecs``): a 20-step spec parses to about 40 KiB, and the planner never changes
one, so a thousand such flows cost one copy, not a thousand.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

import pydantic

from zenflow import boundedjson
from zenflow.api.formats import clip
from zenflow.api.jobflow import JobFlow, JobFlowSpec
from zenflow.api.status import FLOW_TERMINAL_PHASES, JobFlowStatus
from zenflow.core.planning.finished import stale_invalid
from zenflow.core.validation.validator import validate_object
from zenflow.machinery.listwatch import undecodable_reason

PARSED_CACHE_SIZE: Final = 4096
SHARED_SPECS: Final = 1024
"""Distinct specs remembered for sharing (least recently parsed forgotten first)."""


class InvalidFlowError(Exception):
    """The flow fails validation; ``flow`` is as much of it as could be parsed."""

    def __init__(self, flow: JobFlow, problems: str) -> None:
        super().__init__(problems)
        self.flow = flow
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Parsed:
    generation: int
    spec: JobFlowSpec | None
    problems: str | None


class SpecCache:
    """uid → the validated spec of the flow's current generation (bounded LRU)."""

    def __init__(self, size: int = PARSED_CACHE_SIZE) -> None:
        self._size = size
        self._parsed: OrderedDict[str, Parsed] = OrderedDict()
        self._shared = SharedSpecs()

    def __len__(self) -> int:
        return len(self._parsed)

    def forget(self, uid: str) -> None:
        self._parsed.pop(uid, None)

    def flow(self, uid: str, obj: dict[str, Any]) -> JobFlow:
        """The typed flow; raises InvalidFlowError when the spec is invalid."""
        meta = obj.get("metadata") or {}
        generation = int(meta.get("generation") or 0)
        cached = self._parsed.get(uid)
        if cached is None or cached.generation != generation:
            cached = validate(obj, generation, shared=self._shared)
            self._parsed[uid] = cached
            while len(self._parsed) > self._size:
                self._parsed.popitem(last=False)
        else:
            self._parsed.move_to_end(uid)
        status = parse_status(obj.get("status"))
        if status is not None and stale_invalid(
            reason=status.reason,
            observed_generation=status.observed_generation,
            generation=generation,
        ):
            status = None  # fixed since: start afresh
        flow = JobFlow.model_construct(
            api_version=str(obj.get("apiVersion", "")),
            kind=str(obj.get("kind", "")),
            metadata=meta,
            spec=cached.spec or JobFlowSpec.model_construct(steps=[]),
            status=status,
        )
        if cached.problems is not None:
            raise InvalidFlowError(flow, cached.problems)
        return flow


def keep_spec(status: JobFlowStatus) -> bool:
    """Whether a flow whose reconcile planned ``status`` should keep its parsed spec: not when
    it is finished, nor when it is suspended with no step Running or Retrying (idle until an
    edit of its spec, which is a new generation)."""
    if status.phase in FLOW_TERMINAL_PHASES:
        return False
    if status.phase == "Suspended":
        return any(s.phase in ("Running", "Retrying") for s in status.steps or [])
    return True


class SharedSpecs:
    """Canonical JSON of a spec → its parsed model, a bounded LRU: equal specs parse once."""

    def __init__(self, size: int = SHARED_SPECS) -> None:
        self._size = size
        self._specs: OrderedDict[bytes, JobFlowSpec] = OrderedDict()

    def __len__(self) -> int:
        return len(self._specs)

    def parse(self, spec: Any) -> JobFlowSpec:
        """The parsed ``spec`` (raises ``pydantic.ValidationError`` as ``model_validate``)."""
        key = boundedjson.dumps(spec, sort_keys=True, default=str)
        found = self._specs.get(key)
        if found is not None:
            self._specs.move_to_end(key)
            return found
        parsed = JobFlowSpec.model_validate(spec)
        self._specs[key] = parsed
        while len(self._specs) > self._size:
            self._specs.popitem(last=False)
        return parsed


def validate(obj: dict[str, Any], generation: int, *, shared: SharedSpecs | None = None) -> Parsed:
    """Validate a raw flow; the spec is kept when it parses even if the flow is invalid. Never
    raises: an object the informer could only cache as a placeholder (it could not be decoded)
    and anything the validator refuses are problems."""
    undecodable = undecodable_reason(obj)
    if undecodable is not None:
        return Parsed(generation, None, f"the object could not be decoded: {undecodable}")
    report = validate_object(obj)
    if not report.ok:
        return Parsed(generation, _try_spec(obj), report.summary())
    try:
        spec = obj.get("spec") or {}
        parsed = shared.parse(spec) if shared is not None else JobFlowSpec.model_validate(spec)
        return Parsed(generation, parsed, None)
    except pydantic.ValidationError as exc:
        return Parsed(generation, None, clip(str(exc)) or "invalid spec")


def _try_spec(obj: dict[str, Any]) -> JobFlowSpec | None:
    try:
        return JobFlowSpec.model_validate(obj.get("spec") or {})
    except Exception:  # whatever the validator refused may not even parse
        return None


def parse_status(raw: Any) -> JobFlowStatus | None:
    """The stored status, or None when absent or unreadable (then rebuilt from the Jobs)."""
    if not isinstance(raw, dict) or not raw:
        return None
    try:
        return JobFlowStatus.model_validate(raw)
    except Exception:  # a status written by someone else may hold anything
        return None
