"""The compact Job cache: what the JobFlow controller keeps of each of its Jobs — exactly what it
reads, so a controller with tens of thousands of finished Jobs stays small (about 1.7 KiB per
Job instead of the whole object: pod template, status counters, every condition).

``compact_job`` is the Job informer's transform (``zenflow.machinery.transform``: it runs once
per delivered object, before the cache and every handler). It keeps:

  * metadata: name, namespace, uid, resourceVersion, creation and deletion timestamps; the
    labels zenflow reads (step, attempt, shard, flow); the retry-count annotation unless 0; the
    controller owner reference (apiVersion, kind, name, uid);
  * spec, while the Job is unfinished, only the fields that decide whether one pod decides it
    (``core.joboutcome.pod_decides``): completions, successPolicy, activeDeadlineSeconds,
    suspend, managedBy;
  * status: the conditions that are True among Complete, Failed, SuccessCriteriaMet and
    FailureTarget (type, status, reason, message, lastTransitionTime), and completionTime.

Whatever else an output's JSONPath may read (the pod template, counters) is read from the API
server, not from this cache (``controller.jobflow.observed``). Invariant: every field
``core.observed.job_record``, ``core.joboutcome`` and the informer's owner index read is kept
as the API server sent it.
"""

from __future__ import annotations

from typing import Any, Final

from zenflow.api.constants import LABEL_ATTEMPT, LABEL_JOBFLOW, LABEL_STEP
from zenflow.core.observed import ANNOTATION_RETRY_COUNT, LABEL_SHARD
from zenflow.machinery.transform import INTERN_MAX_LEN, Interner, strip_unused_metadata

KEPT_LABELS: Final = (LABEL_STEP, LABEL_ATTEMPT, LABEL_SHARD, LABEL_JOBFLOW)
KEPT_METADATA: Final = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
)
KEPT_SPEC: Final = ("completions", "successPolicy", "activeDeadlineSeconds", "suspend", "managedBy")
DECIDING: Final = frozenset({"Complete", "Failed", "SuccessCriteriaMet", "FailureTarget"})
FINAL: Final = frozenset({"Complete", "Failed"})
CONDITION_FIELDS: Final = ("type", "status", "reason", "message", "lastTransitionTime")
OWNER_FIELDS: Final = ("apiVersion", "kind", "name", "uid", "controller")

Obj = dict[str, Any]

_SHARED = Interner()
"""Values many cached Jobs repeat (namespaces, step names, owners, condition types, times); the
keys are this module's constants, shared already. Unique values (names, uids) are not looked up."""


def _share(value: Any) -> Any:
    if type(value) is str and len(value) <= INTERN_MAX_LEN:
        return _SHARED.string(value)
    return value


def compact_job(job: Obj) -> Obj:
    """The compact form of a raw batch/v1 Job (a new dict; strings shared between objects)."""
    meta = job.get("metadata")
    if not isinstance(meta, dict):
        return strip_unused_metadata(job)  # not a Job as we know it: cached as it came
    out_meta: Obj = {k: meta[k] for k in KEPT_METADATA if k in meta}
    for k in ("namespace", "creationTimestamp"):
        if k in out_meta:
            out_meta[k] = _share(out_meta[k])
    labels = meta.get("labels")
    if isinstance(labels, dict):
        out_meta["labels"] = {k: _share(labels[k]) for k in KEPT_LABELS if k in labels}
    annotations = meta.get("annotations")
    if isinstance(annotations, dict) and annotations.get(ANNOTATION_RETRY_COUNT) not in (None, "0"):
        retries = _share(annotations[ANNOTATION_RETRY_COUNT])
        out_meta["annotations"] = {ANNOTATION_RETRY_COUNT: retries}
    refs = [
        {k: _share(r[k]) for k in OWNER_FIELDS if k in r}
        for r in meta.get("ownerReferences") or []
        if isinstance(r, dict) and r.get("controller") is True
    ]
    if refs:
        out_meta["ownerReferences"] = refs
    raw_status = job.get("status")
    status: Obj = raw_status if isinstance(raw_status, dict) else {}
    conditions = [
        {k: _share(c[k]) for k in CONDITION_FIELDS if c.get(k) is not None}
        for c in status.get("conditions") or []
        if isinstance(c, dict) and c.get("status") == "True" and c.get("type") in DECIDING
    ]
    out: Obj = {"metadata": out_meta}
    if not any(c["type"] in FINAL for c in conditions):
        raw_spec = job.get("spec")
        spec: Obj = raw_spec if isinstance(raw_spec, dict) else {}
        out["spec"] = {k: _share(spec[k]) for k in KEPT_SPEC if k in spec}
    out_status: Obj = {}
    if conditions:
        out_status["conditions"] = conditions
    if "completionTime" in status:
        out_status["completionTime"] = _share(status["completionTime"])
    out["status"] = out_status
    return out
