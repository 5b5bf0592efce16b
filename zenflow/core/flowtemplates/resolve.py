"""Resolve a flow spec's ``templateRef``s into the spec it runs: pure, on wire-form dicts.

``needed(spec)`` lists the templates a spec refers to; the caller fetches them (from files, the
informer cache or the API server) and ``resolve_spec(spec, namespace=..., templates=...)``
builds the resolved spec, or says why it cannot:

- ``missing``: a referenced template does not exist (the flow fails with ``TemplateNotFound``);
- ``problems``: the reference does not fit the template's schema — a step it does not have, a
  param it does not declare, a required param without a value, a value outside the param's
  enum, a field the template already gives. Each names the flow's field.

Step references (``steps[i].templateRef``): the template step is copied (as written) under the
flow step's name, with ``{{ params.P }}`` of the template's declared params replaced by the
step's ``params`` values, else the param's default (a required param must be given when the
chosen step uses it). The value is inserted as written, so a value
like ``{{ steps.build.outputs.tag }}`` is rendered when the step runs, against the flow. The flow
step keeps its ``name``, ``dependencies``, ``when``, ``continueOnFailure``, ``matrix`` and
``metadata``; ``retryPolicy``, ``timeoutSeconds`` and ``workspaces`` set on it replace the
template's; its ``inputs`` are added (same name: the flow's wins).

Flow references (``spec.templateRef``): the template's spec is the flow's, with each declared
param's ``value`` taken from the flow's ``params``; the flow may still set ``suspend``,
``notifications`` and ``executionPolicy``.

Invariants: the result holds no ``templateRef``; nothing is mutated; problems carry field paths
relative to ``path``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from zenflow.api.templateref import CLUSTER_TEMPLATE_KIND, TEMPLATE_KIND, TemplateSource
from zenflow.core.templating import Reference, TemplateError, references_in, render_string

TemplateKey = tuple[str, str, str]
"""(kind, namespace — "" for a ClusterJobFlowTemplate —, name)."""

FLOW_STEP_FIELDS: Final = frozenset(
    {"name", "dependencies", "when", "continueOnFailure", "matrix", "metadata"}
)
"""Fields of a flow step using templateRef that are its own."""
OVERRIDABLE: Final = frozenset({"retryPolicy", "timeoutSeconds", "workspaces"})
"""Fields the flow step may set to replace the template step's."""
FROM_TEMPLATE: Final = frozenset({"template", "run", "outputs", "artifacts", "type", "message"})
"""Fields only the template gives (setting them beside templateRef is an error)."""
FLOW_SPEC_FIELDS: Final = frozenset(
    {"templateRef", "params", "suspend", "notifications", "executionPolicy"}
)
"""Fields a flow using spec.templateRef may set."""


@dataclass(frozen=True, slots=True)
class Needed:
    """A template a spec refers to, and the field that refers to it."""

    key: TemplateKey
    path: str


@dataclass
class Resolution:
    """The resolved spec (None unless everything resolved), or what went wrong."""

    spec: dict[str, Any] | None = None
    sources: list[TemplateSource] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)
    """(path, message) of references to templates that do not exist."""
    problems: list[tuple[str, str]] = field(default_factory=list)
    """(path, message) of references that do not fit their template."""
    origins: dict[str, str] = field(default_factory=dict)
    """Field path prefix of each step taken from a template → "JobFlowTemplate ns/name"."""

    @property
    def ok(self) -> bool:
        return self.spec is not None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def template_key(ref: Mapping[str, Any], *, namespace: str) -> TemplateKey:
    kind = str(ref.get("kind") or TEMPLATE_KIND)
    return (kind, "" if kind == CLUSTER_TEMPLATE_KIND else namespace, str(ref.get("name") or ""))


def describe(key: TemplateKey) -> str:
    """``JobFlowTemplate "scan" in namespace "ci"`` / ``ClusterJobFlowTemplate "scan"``."""
    kind, namespace, name = key
    return f'{kind} "{name}"' + (f' in namespace "{namespace}"' if namespace else "")


LISTED: Final = 10
"""Names a message lists before saying how many more there are (a template may have 2,000
steps; a refusal must stay readable)."""


def listed(names: Sequence[str]) -> str:
    """``a, b, c``; past ``LISTED`` names, the first ones and ``… and N more``; ``none``."""
    if not names:
        return "none"
    shown = ", ".join(names[:LISTED])
    return shown if len(names) <= LISTED else f"{shown}, … and {len(names) - LISTED} more"


def uses_templates(spec: Any) -> bool:
    """True when the raw spec refers to a template anywhere."""
    spec = _mapping(spec)
    if spec.get("templateRef") is not None:
        return True
    steps = [*_list(spec.get("steps")), *_list(spec.get("finally"))]
    return any(isinstance(s, Mapping) and s.get("templateRef") is not None for s in steps)


def needed(spec: Any, *, namespace: str, path: str = "spec") -> list[Needed]:
    """Every template the raw spec refers to (in spec order, each reference once)."""
    spec = _mapping(spec)
    out: list[Needed] = []
    ref = spec.get("templateRef")
    if isinstance(ref, Mapping):
        out.append(Needed(template_key(ref, namespace=namespace), f"{path}.templateRef"))
    for section in ("steps", "finally"):
        for i, step in enumerate(_list(spec.get(section))):
            ref = _mapping(step).get("templateRef")
            if isinstance(ref, Mapping):
                key = template_key(ref, namespace=namespace)
                out.append(Needed(key, f"{path}.{section}[{i}].templateRef"))
    return out


def resolve_spec(
    spec: Mapping[str, Any],
    *,
    namespace: str,
    templates: Mapping[TemplateKey, Mapping[str, Any]],
    path: str = "spec",
) -> Resolution:
    """The spec with every templateRef resolved from ``templates`` (raw template objects by
    key; a key absent is a template that does not exist)."""
    out = Resolution()
    for need in needed(spec, namespace=namespace, path=path):
        if need.key not in templates:
            out.missing.append((f"{need.path}.name", f"{describe(need.key)} not found"))
    if out.missing:
        return out
    resolver = _Resolver(templates, namespace=namespace, out=out)
    if spec.get("templateRef") is not None:
        resolved = resolver.flow(spec, path=path)
    else:
        resolved = dict(spec)
        for section in ("steps", "finally"):
            items = spec.get(section)
            if isinstance(items, list):
                resolved[section] = [
                    resolver.step(s, path=f"{path}.{section}[{i}]")
                    if isinstance(s, Mapping) and s.get("templateRef") is not None
                    else s
                    for i, s in enumerate(items)
                ]
    if not out.problems:
        out.spec = resolved
    return out


class _Resolver:
    def __init__(
        self,
        templates: Mapping[TemplateKey, Mapping[str, Any]],
        *,
        namespace: str,
        out: Resolution,
    ) -> None:
        self.templates = templates
        self.namespace = namespace
        self.out = out
        self._recorded: set[TemplateKey] = set()

    def _template(self, ref: Mapping[str, Any]) -> tuple[TemplateKey, Mapping[str, Any]]:
        key = template_key(ref, namespace=self.namespace)
        obj = self.templates[key]
        if key not in self._recorded:
            self._recorded.add(key)
            meta = _mapping(obj.get("metadata"))
            self.out.sources.append(
                TemplateSource(
                    kind=key[0],
                    name=key[2],
                    namespace=key[1] or None,
                    uid=meta.get("uid"),
                    resource_version=meta.get("resourceVersion"),
                )
            )
        return key, _mapping(obj.get("spec"))

    def problem(self, path: str, message: str) -> None:
        self.out.problems.append((path, message))

    # -- one step ---------------------------------------------------------------------------

    def step(self, step: Mapping[str, Any], *, path: str) -> dict[str, Any]:
        key, tspec = self._template(_mapping(step.get("templateRef")))
        what = describe(key)
        chosen = self._choose(step, tspec, key=key, path=path)
        if chosen is None:
            return dict(step)
        for name in sorted(FROM_TEMPLATE & step.keys()):
            self.problem(f"{path}.{name}", f"comes from {what}: remove it (templateRef)")
        if _mapping(chosen).get("templateRef") is not None:
            self.problem(f"{path}.templateRef", f"{what}: a template step cannot use templateRef")
            return dict(step)
        values = self._param_values(
            declared=_list(tspec.get("params")),
            given=_list(step.get("params")),
            what=what,
            path=path,
            used=_params_used(chosen),
        )
        body = self._substitute(chosen, values, path=path, what=what)
        merged: dict[str, Any] = {
            k: v
            for k, v in body.items()
            if k not in FLOW_STEP_FIELDS and k not in ("dependencies", "params")
        }
        for name in FLOW_STEP_FIELDS | OVERRIDABLE:
            if name in step:
                merged[name] = copy.deepcopy(step[name])
        metadata = _merge_metadata(_mapping(body.get("metadata")), _mapping(step.get("metadata")))
        if metadata:
            merged["metadata"] = metadata
        merged["inputs"] = _merge_inputs(_list(body.get("inputs")), _list(step.get("inputs")))
        if not merged["inputs"]:
            del merged["inputs"]
        self.out.origins[path] = f"{what}, step {_mapping(chosen).get('name')!r}"
        return merged

    def _choose(
        self, step: Mapping[str, Any], tspec: Mapping[str, Any], *, key: TemplateKey, path: str
    ) -> Mapping[str, Any] | None:
        ref = _mapping(step.get("templateRef"))
        steps = [s for s in _list(tspec.get("steps")) if isinstance(s, Mapping)]
        names = [str(s.get("name")) for s in steps]
        wanted = ref.get("step")
        if wanted is None:
            if len(steps) == 1:
                return steps[0]
            self.problem(
                f"{path}.templateRef.step",
                f"required: {describe(key)} has {len(steps)} steps ({listed(names)})",
            )
            return None
        for candidate in steps:
            if candidate.get("name") == wanted:
                return candidate
        self.problem(
            f"{path}.templateRef.step",
            f'{describe(key)} has no step "{wanted}" (steps: {listed(names)})',
        )
        return None

    def _param_values(
        self,
        *,
        declared: Sequence[Any],
        given: Sequence[Any],
        what: str,
        path: str,
        used: set[str],
    ) -> dict[str, str]:
        """The value of each declared param (given, else default); problems for the rest (a
        required param only matters when the chosen step uses it)."""
        params = {str(p.get("name")): p for p in declared if isinstance(p, Mapping)}
        values: dict[str, str] = {}
        for j, item in enumerate(given):
            item = _mapping(item)
            name = str(item.get("name"))
            if name not in params:
                known = listed(sorted(params))
                self.problem(
                    f"{path}.params[{j}].name",
                    f'{what} declares no param "{name}" (declared: {known})',
                )
                continue
            value = item.get("value")
            if value is None:
                continue
            text = _text(value)
            enum = params[name].get("enum")
            if isinstance(enum, list) and text not in [_text(e) for e in enum]:
                self.problem(f"{path}.params[{j}].value", f"{text!r} is not one of {enum} ({what})")
            values[name] = text
        for name, param in params.items():
            if name in values:
                continue
            default = param.get("default")
            if default is not None:
                values[name] = _text(default)
            elif param.get("required") and name in used:
                self.problem(f"{path}.params", f'param "{name}" of {what} is required: give it')
        return values

    def _substitute(
        self, tree: Mapping[str, Any], values: Mapping[str, str], *, path: str, what: str
    ) -> dict[str, Any]:
        """A deep copy of ``tree`` with {{ params.P }} of the template's params replaced."""

        def resolve(ref: Reference) -> str:
            if ref.root == "params" and ref.parts[0] in values:
                return values[ref.parts[0]]
            return ref.text

        def walk(node: Any) -> Any:
            if isinstance(node, str):
                return render_string(node, resolve)
            if isinstance(node, Mapping):
                return {k: walk(v) for k, v in node.items()}
            if isinstance(node, list):
                return [walk(v) for v in node]
            return node

        try:
            result: dict[str, Any] = walk(tree)
        except TemplateError as exc:
            self.problem(f"{path}.templateRef", f"{what}: {exc}")
            return dict(tree)
        return result

    # -- the whole flow ---------------------------------------------------------------------

    def flow(self, spec: Mapping[str, Any], *, path: str) -> dict[str, Any]:
        key, tspec = self._template(_mapping(spec.get("templateRef")))
        what = describe(key)
        for name in sorted(spec.keys() - FLOW_SPEC_FIELDS):
            self.problem(f"{path}.{name}", f"comes from {what} (spec.templateRef): remove it")
        declared = [p for p in _list(tspec.get("params")) if isinstance(p, Mapping)]
        given = [_mapping(p) for p in _list(spec.get("params"))]
        known = {str(p.get("name")) for p in declared}
        for j, item in enumerate(given):
            if str(item.get("name")) not in known:
                self.problem(
                    f"{path}.params[{j}].name",
                    f'{what} declares no param "{item.get("name")}" (declared: '
                    f"{listed(sorted(known))})",
                )
        values = {str(p.get("name")): p.get("value") for p in given if p.get("value") is not None}
        resolved: dict[str, Any] = {
            k: copy.deepcopy(v) for k, v in tspec.items() if k not in ("description",)
        }
        params = []
        for param in declared:
            entry = dict(param)
            if str(param.get("name")) in values:
                entry["value"] = values[str(param.get("name"))]
            params.append(entry)
        if params:
            resolved["params"] = params
        for name in ("suspend", "notifications", "executionPolicy"):
            if name in spec:
                resolved[name] = copy.deepcopy(spec[name])
        for section in ("steps", "finally"):
            for i, step in enumerate(_list(resolved.get(section))):
                if isinstance(step, Mapping) and step.get("templateRef") is not None:
                    self.problem(
                        f"{path}.templateRef",
                        f"{what}: its {section}[{i}] uses templateRef; templates cannot nest",
                    )
        self.out.origins[path] = what
        return resolved


def _params_used(tree: Any) -> set[str]:
    """Names of the params ``{{ params.NAME }}`` refers to anywhere in ``tree``."""
    used: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            used.update(r.parts[0] for r in references_in(node) if r.root == "params")
        elif isinstance(node, Mapping):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return used


def _merge_metadata(template: Mapping[str, Any], flow: Mapping[str, Any]) -> dict[str, Any]:
    """Labels and annotations of both, the flow's winning on the same key."""
    out: dict[str, Any] = {}
    for part in ("labels", "annotations"):
        merged = {**_mapping(template.get(part)), **_mapping(flow.get(part))}
        if merged:
            out[part] = merged
    return out


def _merge_inputs(template: Sequence[Any], flow: Sequence[Any]) -> list[Any]:
    names = {_mapping(i).get("name") for i in flow}
    return [i for i in template if _mapping(i).get("name") not in names] + list(flow)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
