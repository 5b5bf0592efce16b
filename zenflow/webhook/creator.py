"""Who created a JobFlow or CronJobFlow, as the API server told the webhook: pure rules.

The mutating path (``/mutate``) sets ``workflow.zen.io/created-by`` to the requesting user's name
on CREATE, overwriting whatever the client sent, and puts the stored value back when an UPDATE
changes or drops it. The validating path checks the same rule, so that a cluster without the
mutating configuration still never stores a forged creator.

Invariants:
- On CREATE the annotation, when present, names the requesting user (``userInfo.username``).
- Once stored, the annotation never changes; an UPDATE may only add it to an object stored
  without one, and then only with the requesting user's name.
- Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from zenflow.api.constants import GROUP

ANNOTATION_CREATED_BY: Final = f"{GROUP}/created-by"
# RFC 6901: "/" in a JSON Pointer token is written "~1".
_POINTER: Final = "/metadata/annotations/" + ANNOTATION_CREATED_BY.replace("~", "~0").replace(
    "/", "~1"
)


def _annotations(obj: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if not isinstance(obj, Mapping):
        return None
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return None
    annotations = metadata.get("annotations")
    return annotations if isinstance(annotations, Mapping) else None


def created_by(obj: Mapping[str, Any] | None) -> str | None:
    """The recorded creator of ``obj``, or None when it has none."""
    value = (_annotations(obj) or {}).get(ANNOTATION_CREATED_BY)
    return value if isinstance(value, str) else None


def check_created_by(
    *, old: Mapping[str, Any] | None, new: Mapping[str, Any], username: str
) -> list[str]:
    """Field-named problems when ``new`` carries a creator the rules above do not allow."""
    field = f"metadata.annotations[{ANNOTATION_CREATED_BY}]"
    value = (_annotations(new) or {}).get(ANNOTATION_CREATED_BY)
    stored = created_by(old)
    if stored is not None:
        if value != stored:
            return [f"{field}: records who created the object ({stored!r}) and may not change"]
        return []
    if value is not None and value != username:
        return [
            f"{field}: is set by the admission webhook to the requesting user; "
            f"must be {username!r}, not {value!r}"
        ]
    return []


def created_by_patch(
    *, old: Mapping[str, Any] | None, new: Mapping[str, Any], username: str
) -> list[dict[str, Any]]:
    """The JSON Patch that makes ``new`` satisfy the rules (empty when it already does)."""
    wanted = created_by(old) if old is not None else username
    if old is not None and wanted is None:
        return []  # stored without a creator: an update cannot claim one retroactively
    value = (_annotations(new) or {}).get(ANNOTATION_CREATED_BY)
    if value == wanted:
        return []
    if _annotations(new) is None:
        metadata = new.get("metadata")
        if not isinstance(metadata, Mapping):
            value_ = {"annotations": {ANNOTATION_CREATED_BY: wanted}}
            return [{"op": "add", "path": "/metadata", "value": value_}]
        return [
            {"op": "add", "path": "/metadata/annotations", "value": {ANNOTATION_CREATED_BY: wanted}}
        ]
    return [{"op": "add", "path": _POINTER, "value": wanted}]
