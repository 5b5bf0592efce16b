"""Informer transforms: what is done to each object before it enters an informer's cache.

Like client-go's ``SharedIndexInformer.SetTransform`` (and controller-runtime's default of
stripping ``managedFields``), a transform runs once per object the reflector delivers — list
items, watch events, including deletes — before the store or any handler sees it, so update
handlers get the transformed old and new objects.

``strip_unused_metadata``, the controller's default, drops what no zenflow reader uses and
what makes most of a cached object's size:

  * ``metadata.managedFields`` (server-side apply bookkeeping; often larger than the spec);
  * the ``kubectl.kubernetes.io/last-applied-configuration`` annotation (a JSON copy of the
    whole object as last ``kubectl apply``-ed);

and interns the dict keys (every cached object otherwise holds its own copy of ``"metadata"``,
``"name"``, ``"dependencies"``, … — ``json.loads`` shares keys only within one document).

Invariant: a transform may edit the object in place (the informer owns every object the
reflector hands it: freshly decoded JSON nobody else holds) and returns the object to cache;
it must be cheap (it runs on the event path) and keep ``metadata.name``/``namespace``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Final

Obj = dict[str, Any]
Transform = Callable[[Obj], Obj]

LAST_APPLIED_ANNOTATION: Final = "kubectl.kubernetes.io/last-applied-configuration"


def strip_unused_metadata(obj: Obj) -> Obj:
    """Drop ``managedFields`` and the last-applied annotation; intern keys. Edits ``obj``."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED_ANNOTATION in annotations:
            del annotations[LAST_APPLIED_ANNOTATION]
            if not annotations:
                del meta["annotations"]
    return obj


def intern_keys(value: Any) -> Any:
    """``value`` with every dict key interned (dicts are rebuilt, lists edited in place)."""
    if isinstance(value, dict):
        return {(sys.intern(k) if type(k) is str else k): intern_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict | list):
                value[i] = intern_keys(item)
    return value
