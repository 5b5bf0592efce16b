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

and shares equal dict keys and short string values between objects (``Interner``):
``json.loads`` shares nothing between documents, so every cached object otherwise holds its own
copies of
``"metadata"``, ``"dependencies"``, ``"busybox:1.36"``, ``"Pending"``, … — about a third of a
cached 10-step JobFlow's size.

``SpecSharing`` (the JobFlow cache's transform) does the same and more: objects whose ``spec``
is equal (a thousand flows stamped from one template or CronJobFlow) share one copy of it, found
through a bounded table keyed by its canonical JSON, so each such object costs its metadata and
status only. Shared subtrees are read-only, like every cached object.

Invariant: a transform may edit the object in place (the informer owns every object the
reflector hands it: freshly decoded JSON nobody else holds) and returns the object to cache;
it must be cheap (it runs on the event path) and keep ``metadata.name``/``namespace``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

from zenflow import boundedjson

Obj = dict[str, Any]
Transform = Callable[[Obj], Obj]

LAST_APPLIED_ANNOTATION: Final = "kubectl.kubernetes.io/last-applied-configuration"
INTERN_MAX_LEN: Final = 64
"""Longer string values (scripts, messages) are rarely shared and are left as they are."""
INTERN_TABLE_SIZE: Final = 100_000


class Interner:
    """Shares equal strings between cached objects through a table of at most ``size``
    strings, emptied when full. Not ``sys.intern``: CPython 3.12 never frees interned strings,
    and uids, resourceVersions and timestamps are unique. Emptying only stops sharing for
    strings seen afterwards until they are met again; objects already cached keep theirs."""

    def __init__(self, size: int = INTERN_TABLE_SIZE) -> None:
        self._size = size
        self._table: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._table)

    def string(self, text: str) -> str:
        found = self._table.get(text)
        if found is not None:
            return found
        if len(self._table) >= self._size:
            self._table.clear()
        self._table[text] = text
        return text

    def strings(self, value: Any) -> Any:
        """``value`` with every dict key and every string value up to ``INTERN_MAX_LEN``
        characters shared (dicts are rebuilt, lists edited in place)."""
        if isinstance(value, dict):
            return {
                (self.string(k) if type(k) is str else k): self.strings(v) for k, v in value.items()
            }
        if isinstance(value, list):
            for i, item in enumerate(value):
                value[i] = self.strings(item)
            return value
        if type(value) is str and len(value) <= INTERN_MAX_LEN:
            return self.string(value)
        return value


_INTERNER = Interner()


def strip_unused_metadata(obj: Obj) -> Obj:
    """Drop ``managedFields`` and the last-applied annotation; share strings. Edits ``obj``."""
    _strip(obj)
    shared: Obj = _INTERNER.strings(obj)
    return shared


class SpecSharing:
    """A transform: ``strip_unused_metadata``, with equal ``spec`` subtrees shared between the
    objects (at most ``size`` distinct ones remembered, least recently seen forgotten first)."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._specs: OrderedDict[bytes, Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self._specs)

    def __call__(self, obj: Obj) -> Obj:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return strip_unused_metadata(obj)
        _strip(obj)
        key = boundedjson.dumps(spec, sort_keys=True, default=str)
        shared_spec = self._specs.get(key)
        if shared_spec is None:
            shared_spec = _INTERNER.strings(spec)
            self._specs[key] = shared_spec
            while len(self._specs) > self._size:
                self._specs.popitem(last=False)
        else:
            self._specs.move_to_end(key)
        out: Obj = {}
        for k, v in obj.items():
            if k == "spec":
                out[k] = shared_spec
            elif k == "metadata" and isinstance(v, dict):
                out[k] = _metadata(v)
            else:
                out[_INTERNER.string(k)] = _INTERNER.strings(v)
        return out


UNIQUE_METADATA: Final = frozenset(
    {"name", "uid", "resourceVersion", "creationTimestamp", "generation"}
)
"""Metadata values no two objects share: looking them up would only fill the table."""


def _metadata(meta: Obj) -> Obj:
    return {
        _INTERNER.string(k): (v if k in UNIQUE_METADATA else _INTERNER.strings(v))
        for k, v in meta.items()
    }


def _strip(obj: Obj) -> None:
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED_ANNOTATION in annotations:
            del annotations[LAST_APPLIED_ANNOTATION]
            if not annotations:
                del meta["annotations"]
